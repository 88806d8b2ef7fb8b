//! Read speed of each input format: times `wangge::read::read_layer_with` on each file given
//! (the columns a partition reads), best of `--repeat` runs, and prints one JSON line per file.
//!
//! cargo run --release --example read_speed -- [--repeat 3] FILE...

use std::path::PathBuf;
use std::time::Instant;

use wangge::read::{read_layer_with, ReadOptions};

fn main() {
    let mut repeat = 3usize;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--repeat" {
            repeat = args.next().and_then(|v| v.parse().ok()).expect("--repeat N");
        } else {
            files.push(PathBuf::from(a));
        }
    }
    let columns = ["households", "population"];
    for f in files {
        let mut best = f64::INFINITY;
        let mut features = 0;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            let layer = read_layer_with(&f, &columns, &ReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            best = best.min(t.elapsed().as_secs_f64());
            features = layer.features.len();
        }
        let bytes: u64 = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        println!("{}", serde_json::json!({"file": f.display().to_string(), "features": features, "seconds": best, "bytes": bytes}));
    }
}
