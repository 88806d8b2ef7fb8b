//! Mutation fuzzing of every reader (GeoJSON, GeoJSONSeq, GeoPackage, Shapefile with its .shx
//! and .dbf, FlatGeobuf, GeoParquet, CSV tables): valid seed files written by wangge are
//! mutated (bit flips, interesting bytes and integers, cut, repeated and spliced ranges, JSON
//! tokens) and read; every outcome must be a layer or a typed error, never a panic. Every
//! `pipeline_every`-th layer read runs the whole partition as well.
//!
//! The test suite runs a short campaign; `scripts/fuzz.sh` runs a long one
//! (`WANGGE_FUZZ_ITERATIONS`, `WANGGE_FUZZ_SEED`, `WANGGE_FUZZ_PIPELINE_EVERY`). An input that
//! panics is kept in `target/fuzz-crashes/` and fails the test.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::*;
use serde_json::{json, Value};
use wangge::progress::Progress;
use wangge::read::{read_attribute_table, read_layer_with, ReadOptions};
use wangge::PartitionConfig;

/// splitmix64: a small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const TOKENS: &[&str] = &[
    "null", "true", "[]", "{}", "\"\"", "-1", "0", "1e308", "-1e308", "1e-320", "NaN", "Infinity", "-0", "99999999999999999999",
    "\"type\":\"Point\"", "\"type\":\"Polygon\"", "\"type\":\"MultiPolygon\"", "\"type\":\"GeometryCollection\"", "\"coordinates\":[]",
    "\"coordinates\":[[[0,0],[1,1],[0,0]]]", "\"geometry\":null", "\"properties\":null", "\"households\":\"x\"", "\"crs\":{}", ",", ":", "\"", "\\u0000",
    "\u{feff}", "网格", "\n", "\r\n", ";", "\t",
];
const INTERESTING_U32: &[u32] = &[0, 1, 2, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 9994, 1000];

/// One to four random mutations of `seed`.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = b.len();
        match rng.below(10) {
            0 if n > 0 => {
                let i = rng.below(n);
                b[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                b[i] = [0u8, 0xFF, 0x7F, 0x80, b'-', b'9', b'"', b'{', b'}', b'[', b']', b',', b'e', b'.', b'*', 0x0D][rng.below(16)];
            }
            2 if n >= 4 => {
                let i = rng.below(n - 3);
                let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
                let bytes = if rng.below(2) == 0 { v.to_le_bytes() } else { v.to_be_bytes() };
                b[i..i + 4].copy_from_slice(&bytes);
            }
            3 if n > 0 => {
                let i = rng.below(n);
                let len = 1 + rng.below((n - i).min(64));
                b.drain(i..i + len);
            }
            4 if n > 0 => {
                let i = rng.below(n);
                let len = 1 + rng.below((n - i).min(256));
                let copy = b[i..i + len].to_vec();
                let at = rng.below(n + 1);
                b.splice(at..at, copy);
            }
            5 => {
                let at = rng.below(n + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            6 if n > 0 => {
                // Replace a number-looking run by a token.
                let i = rng.below(n);
                let end = (i..n).find(|&k| !(b[k].is_ascii_digit() || b[k] == b'.' || b[k] == b'-')).unwrap_or(n);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(i..end, t.iter().copied());
            }
            7 => b.truncate(rng.below(n + 1)),
            8 => {
                let at = rng.below(n + 1);
                let len = 1 + rng.below(16);
                let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            _ if n > 8 => {
                // Swap two ranges' bytes (moves structure around).
                let (i, j) = (rng.below(n - 4), rng.below(n - 4));
                for k in 0..4 {
                    b.swap(i + k, j + k);
                }
            }
            _ => {}
        }
    }
    b
}

/// One reader under test: its seed files (the first is the one read; the others are its
/// companions, such as a shapefile's .shx and .dbf, and are mutated in turn).
struct Target {
    name: &'static str,
    files: Vec<(String, Vec<u8>)>,
    table: bool,
}

/// Seed files: a partition of 6 buildings (one of them a point, one a multipolygon with a hole)
/// written by wangge in every format, and a CSV table.
fn seeds(dir: &Path) -> Vec<Target> {
    let mut features: Vec<Value> = serde_json::from_str::<Value>(&lattice(3, 2, 40.0, &mut |i, j| 40.0 + (i * 3 + j) as f64 * 17.0)).unwrap()["features"].as_array().unwrap().clone();
    let (x, y) = (X0 + 80.0, Y0 + 40.0);
    features[5]["geometry"] = json!({"type": "MultiPolygon", "coordinates": [
        [[[x - 10.0, y - 10.0], [x + 10.0, y - 10.0], [x + 10.0, y + 10.0], [x - 10.0, y + 10.0], [x - 10.0, y - 10.0]],
         [[x - 2.0, y - 2.0], [x - 2.0, y + 2.0], [x + 2.0, y + 2.0], [x + 2.0, y - 2.0], [x - 2.0, y - 2.0]]],
        [[[x + 12.0, y], [x + 15.0, y], [x + 15.0, y + 3.0], [x + 12.0, y]]]]});
    // A Shapefile holds one geometry type; the other formats get a point building too.
    let polygons = write(dir, "seed-polygons.geojson", collection(features.clone()));
    features[4]["geometry"] = json!({"type": "Point", "coordinates": [X0 + 40.0, Y0 + 40.0]});
    let mixed = write(dir, "seed.geojson", collection(features));
    let mut targets = Vec::new();
    for (format, ext, name, companions) in [
        ("geojson", "geojson", "GeoJSON", &[][..]),
        ("geojsonseq", "geojsonl", "GeoJSONSeq", &[][..]),
        ("gpkg", "gpkg", "GeoPackage", &[][..]),
        ("shp", "shp", "Shapefile", &["shx", "dbf", "prj", "cpg"][..]),
        ("fgb", "fgb", "FlatGeobuf", &[][..]),
        ("parquet", "parquet", "GeoParquet", &[][..]),
    ] {
        let out = dir.join(format!("seed-{format}"));
        let src = if format == "shp" { &polygons } else { &mixed };
        let o = wangge(&["partition", src, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--min-households", "50", "--max-households", "200", "--output-format", format]);
        assert!(matches!(o.status.code(), Some(0) | Some(4)), "{format}: {}", stderr(&o));
        let mut files = vec![(format!("b.{ext}"), std::fs::read(out.join(format!("buildings.{ext}"))).unwrap())];
        for c in companions {
            files.push((format!("b.{c}"), std::fs::read(out.join(format!("buildings.{c}"))).unwrap()));
        }
        targets.push(Target { name, files, table: false });
    }
    let csv = "building_id,households,population,name\n1,40,100,\"a, b\"\n2,57,\"140\",网格\n3,,12,\n4,74.5,180,\"x\"\"y\"\n";
    targets.push(Target { name: "CSV table", files: vec![("t.csv".into(), csv.as_bytes().to_vec())], table: true });
    targets
}

/// Figures of one reader's campaign.
#[derive(Debug, Default)]
struct Figures {
    inputs: u64,
    read: u64,
    refused: u64,
    pipelines: u64,
    /// Panics of a third-party decoder, contained as an error by the reader.
    contained: Vec<PathBuf>,
    panics: Vec<PathBuf>,
    /// The slowest whole-pipeline run: seconds and the input kept.
    slowest: (f64, Option<PathBuf>),
    seconds: f64,
}

fn config() -> PartitionConfig {
    let mut c = PartitionConfig::default();
    c.bounds.min_households = 50.0;
    c.bounds.max_households = 200.0;
    c.search.effort = Some(0.0);
    c
}

/// Mutates and reads `target` `iterations` times in `dir`.
fn campaign(target: &Target, dir: &Path, iterations: u64, seed: u64, pipeline_every: u64) -> Figures {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng(seed);
    let mut fig = Figures::default();
    let columns = ["households", "population", "building_id", "grid_id"];
    let config = config();
    let start = Instant::now();
    for it in 0..iterations {
        let k = if target.files.len() == 1 { 0 } else { [0, 0, 1, 2, 2, 3][rng.below(6)].min(target.files.len() - 1) };
        let mutated = mutate(&target.files[k].1, &mut rng);
        for (i, (name, bytes)) in target.files.iter().enumerate() {
            std::fs::write(dir.join(name), if i == k { &mutated } else { bytes }).unwrap();
        }
        let path = dir.join(&target.files[0].0);
        fig.inputs += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let layer = if target.table {
                read_attribute_table(&path, &columns, &ReadOptions::default())
            } else {
                read_layer_with(&path, &columns, &ReadOptions::default())
            };
            let mut ran = None;
            if let Ok(layer) = &layer {
                // Every message of a layer that reads must format; then, now and again, the whole pipeline.
                let _ = layer.features.iter().map(|f| f.label()).count();
                if !target.table && pipeline_every > 0 && it % pipeline_every == 0 {
                    let t0 = Instant::now();
                    let layers = wangge::InputLayers::buildings(layer.clone());
                    let _ = wangge::partition_layers(&layers, &config, None, &mut Progress::hidden()).map(|p| p.grids.len());
                    ran = Some(t0.elapsed().as_secs_f64());
                }
            }
            let contained = layer.as_ref().err().is_some_and(|e| e.to_string().contains(wangge::read::DECODER_FAILED));
            (layer.is_ok(), ran, contained)
        }));
        let keep = || {
            let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes").join(format!("{}-{seed}-{it}", target.name.replace(' ', "_")));
            std::fs::create_dir_all(&keep).unwrap();
            for (name, _) in &target.files {
                let _ = std::fs::copy(dir.join(name), keep.join(name));
            }
            keep
        };
        match outcome {
            Ok((ok, ran, contained)) => {
                if ok { fig.read += 1 } else { fig.refused += 1 }
                fig.pipelines += ran.is_some() as u64;
                if let Some(t) = ran.filter(|&t| t > fig.slowest.0) {
                    fig.slowest = (t, Some(keep()));
                }
                if contained {
                    fig.contained.push(keep());
                }
            }
            Err(_) => fig.panics.push(keep()),
        }
    }
    fig.seconds = start.elapsed().as_secs_f64();
    fig
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

#[test]
fn no_mutated_input_makes_a_reader_or_the_pipeline_panic() {
    let iterations = env_u64("WANGGE_FUZZ_ITERATIONS", 1500);
    let seed = env_u64("WANGGE_FUZZ_SEED", 1);
    let pipeline_every = env_u64("WANGGE_FUZZ_PIPELINE_EVERY", 25);
    // Many small files are written: in memory when the system has a tmpfs.
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() }.join(format!("wangge-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    // Each reader keeps its index among all readers (its campaign's seed) when others are left out.
    let only = std::env::var("WANGGE_FUZZ_ONLY").ok();
    let indexed: Vec<(usize, Target)> = seeds(&base).into_iter().enumerate().filter(|(_, t)| only.as_ref().is_none_or(|o| t.name.eq_ignore_ascii_case(o))).collect();
    // Panics are expected to be caught here; their messages would drown the report.
    std::panic::set_hook(Box::new(|_| {}));
    // Two readers at a time (the machine's two cores); the results do not depend on the order.
    let figures: Vec<Figures> = std::thread::scope(|s| {
        let chunks: Vec<Vec<(usize, &Target)>> = (0..2).map(|t| indexed.iter().enumerate().filter(|(k, _)| k % 2 == t).map(|(_, (i, target))| (*i, target)).collect()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let base = &base;
                s.spawn(move || chunk.into_iter().map(|(i, t)| (i, campaign(t, &base.join(format!("run-{i}")), iterations, seed.wrapping_mul(1000) + i as u64, pipeline_every))).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<(usize, Figures)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, f)| f).collect()
    });
    let _ = std::panic::take_hook();
    let _ = std::fs::remove_dir_all(&base);
    let targets: Vec<&Target> = indexed.iter().map(|(_, t)| t).collect();
    println!("| reader | inputs | read | refused (typed error) | of which a contained decoder panic | whole pipeline runs | panics | inputs/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (t, f) in targets.iter().zip(&figures) {
        println!("| {} | {} | {} | {} | {} | {} | {} | {:.0} |", t.name, f.inputs, f.read, f.refused, f.contained.len(), f.pipelines, f.panics.len(), f.inputs as f64 / f.seconds.max(1e-9));
    }
    for (t, f) in targets.iter().zip(&figures) {
        if let (s, Some(p)) = &f.slowest {
            println!("slowest pipeline run of {}: {s:.2} s on {}", t.name, p.display());
        }
    }
    let panics: Vec<&PathBuf> = figures.iter().flat_map(|f| &f.panics).collect();
    assert!(panics.is_empty(), "{} inputs panicked; kept in {:?}", panics.len(), &panics[..panics.len().min(10)]);
    let contained: Vec<&PathBuf> = figures.iter().flat_map(|f| &f.contained).collect();
    assert!(contained.is_empty(), "{} inputs made a decoder panic (contained as an error, but a fault to check for before decoding); kept in {:?}", contained.len(), &contained[..contained.len().min(10)]);
    // The campaign reached past the parsers: some mutated inputs still read.
    for (t, f) in targets.iter().zip(&figures) {
        assert!(f.read > 0 && f.refused > 0, "{}: {} read, {} refused: the mutations miss the reader", t.name, f.read, f.refused);
    }
}
