//! The partition pipeline: one call per stage, read → model → graph → distances → partition →
//! tessellate → check → (micro-grids) → report, each stage a function of the products of the
//! stages before it.

use crate::config::PartitionConfig;
use crate::error::Result;
use crate::progress::Progress;
use crate::read::{InputLayers, Inputs};
use crate::report::{Partitioned, Stages};
use crate::{check, distance, graph, model, partition, read, report, tessellate, workers};

/// Reads the input files and runs the pipeline; returns the result and the layers read (the
/// writers copy the buildings' features).
pub fn partition_files(inputs: &Inputs, config: &PartitionConfig, progress: &mut Progress) -> Result<(Partitioned, InputLayers)> {
    config.validate()?;
    progress.stage("read", "reading inputs");
    let layers = read::read_inputs(inputs, &model::input_columns(config))?;
    let result = partition_layers(&layers, config, Some(inputs.clone()), progress)?;
    Ok((result, layers))
}

/// Runs the pipeline on layers already read; `inputs` (the files, when read from files) is
/// recorded in the summary.
pub fn partition_layers(layers: &InputLayers, config: &PartitionConfig, inputs: Option<Inputs>, progress: &mut Progress) -> Result<Partitioned> {
    progress.stage("model", "checking buildings and coordinate systems");
    progress.checkpoint()?;
    let mut model = model::build_model(layers, config)?;
    let pool = workers::pool(layers.workers.as_deref(), config, &model.frame)?;
    let config = &workers::capped(config, pool.as_deref());
    let split = model::split::split_oversize(&mut model, &layers.buildings, config)?;

    progress.stage("graph", "triangulating the territory and building the adjacency graph");
    progress.checkpoint()?;
    let graphed = graph::build(&model, config)?;
    // The boundary weight in force, recorded in the summary's configuration.
    let config = &config.with_boundary_weight_for(graphed.graph.has_boundary_along_streets());
    let walking = distance::walks(&model, &graphed.graph, config);

    progress.stage("partition", "dividing into grids");
    progress.checkpoint()?;
    let step = |s: Option<usize>| progress.count(s);
    let division = partition::divide(&graphed.graph, &walking.metric, &model, config, &step)?;

    progress.stage("tessellate", "tracing grid polygons");
    progress.checkpoint()?;
    let mut tiling = tessellate::tile(&graphed.mesh, &graphed.cells, &division, &model, config);

    progress.stage("check", "checking invariants");
    progress.checkpoint()?;
    let defects = check::check(&graphed.graph, &division.plan, &tiling, &model, config)?;

    let micro = match config.micro.micro_min.zip(config.micro.micro_max) {
        None => None,
        Some((lo, hi)) => {
            progress.stage("micro-grids", "dividing grids into micro-grids");
            progress.checkpoint()?;
            let name = |u: u32| graphed.graph.unit_name(u, &model.buildings);
            let plan = partition::micro::divide_grids(&graphed.graph, &division.plan, config, lo, hi, &name)?;
            let shapes = tessellate::tile_micro(&graphed.mesh, &graphed.cells, &plan, &mut tiling);
            Some((plan, shapes))
        }
    };

    progress.stage("report", "numbering grids, converting polygons back, summing up");
    progress.checkpoint()?;
    let stages = Stages { layers, inputs, config, model, workers: pool, split, graphed, walks: walking, division, tiling, defects, micro };
    report::report(stages, progress)
}
