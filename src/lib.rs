//! wangge (网格, "grid"): divides a territory into balanced, contiguous, compact grids for
//! community grid governance, and tiles the territory with their polygons.
//!
//! The pipeline has one module per stage: [`read`] → [`model`] → [`graph`] → [`partition`] →
//! [`tessellate`] → [`check`] → [`write`]; [`pipeline`] runs them in order. The CLI
//! (`src/main.rs`) and the Python bindings are thin layers over [`pipeline`]. [`audit`] checks
//! and repairs an existing grid layer (`wangge check`, `wangge repair`).

// Library code states its invariants with `expect("why")`; a bare unwrap is refused.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod audit;
pub mod batch;
pub mod check;
pub mod cli;
pub mod config;
pub mod crs;
pub mod distance;
pub mod error;
pub mod geom;
pub mod graph;
pub mod model;
pub mod network;
pub mod offset;
pub mod partition;
pub mod pieces;
pub mod pipeline;
pub mod progress;
#[cfg(feature = "python")]
pub mod python;
pub mod read;
pub mod report;
pub mod rng;
pub mod solver;
pub mod text;
pub mod tessellate;
pub mod workers;
pub mod write;

pub use config::PartitionConfig;
pub use error::{Error, FeatureFault, Result};
pub use pipeline::{partition_files, partition_layers};
pub use read::{InputLayers, Inputs};
pub use report::Partitioned;

/// Version of the wangge library.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
