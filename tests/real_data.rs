//! The shipped samples (real Shanghai footprints, the synthetic 10k district), checked
//! independently: tiling, containment, bounds held or declared, barriers not crossed.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use geo::{Coord, LineString};
use wangge::progress::Progress;
use wangge::{partition_files, Inputs, PartitionConfig};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

/// Straight barrier lines (two points) and which side of each a point lies on.
fn side(l: &LineString<f64>, c: Coord<f64>) -> bool {
    let (a, b) = (l.0[0], l.0[l.0.len() - 1]);
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x) > 0.0
}

#[test]
fn synth_10k_with_territory_and_barriers() {
    let cfg = PartitionConfig::default();
    let inputs = Inputs {
        buildings: data("synth_10k/buildings.geojson"),
        territory: Some(data("synth_10k/territory.geojson")),
        barriers: vec![data("synth_10k/barriers.geojson")],
        ..Default::default()
    };
    let (r, layers) = partition_files(&inputs, &cfg, &mut Progress::hidden()).unwrap();
    let b = layers.buildings;
    let t_text = std::fs::read_to_string(data("synth_10k/territory.geojson")).unwrap();
    let c = check(&r, &b, Some(&territory_polygons(&t_text)), &cfg);
    // Bounds hold except in declared grids, which stay few.
    assert!(c.out_of_band * 50 < c.grids, "{} of {} grids out of band", c.out_of_band, c.grids);
    for v in &r.violations {
        assert!(!v.message.is_empty());
        assert!(matches!(v.kind.as_str(), "oversize_building" | "isolated_area" | "infeasible_area" | "unbalanced"), "{}", v.kind);
    }
    // Straight barriers (the arterials): every grid's buildings on one side of each.
    let barriers = layer(&std::fs::read_to_string(data("synth_10k/barriers.geojson")).unwrap(), "barriers");
    let anchors: Vec<Coord<f64>> = b
        .features
        .iter()
        .map(|f| geo::InteriorPoint::interior_point(f.geometry.as_ref().unwrap()).unwrap().0)
        .collect();
    let mut straight = 0;
    for f in &barriers.features {
        let Some(geo::Geometry::LineString(l)) = &f.geometry else { continue };
        if l.0.len() != 2 {
            continue;
        }
        straight += 1;
        // Only buildings within the line's extent along it count (the line spans the district).
        for (g, grid) in r.grids.iter().enumerate() {
            let sides: std::collections::BTreeSet<bool> =
                (0..anchors.len()).filter(|&i| r.building_grid[i] as usize == g).map(|i| side(l, anchors[i])).collect();
            assert_eq!(sides.len(), 1, "grid {} crosses barrier {:?}", grid.id, l.0);
        }
    }
    assert!(straight >= 10, "expected the arterials to be straight lines");
}

#[test]
fn shanghai_bund_with_water_barriers() {
    let cfg = PartitionConfig::default();
    let inputs = Inputs {
        buildings: data("shanghai_bund/buildings.geojson"),
        territory: None,
        barriers: vec![data("shanghai_bund/water.geojson")],
        ..Default::default()
    };
    let (r, layers) = partition_files(&inputs, &cfg, &mut Progress::hidden()).unwrap();
    let b = layers.buildings;
    let c = check(&r, &b, None, &cfg);
    // Towers above 500 households each form their own, declared, grid.
    let oversize = r.violations.iter().filter(|v| v.kind == wangge::partition::ViolationKind::OversizeBuilding).count();
    assert!(oversize >= 30, "{oversize}");
    let hh = b.column_index("households").unwrap();
    for v in r.violations.iter().filter(|v| v.kind == wangge::partition::ViolationKind::OversizeBuilding) {
        let gi = r.grids.iter().position(|g| g.id == v.grid_id).unwrap();
        let g = &r.grids[gi];
        assert!(g.households > 500.0);
        let max_building = (0..b.features.len())
            .filter(|&i| r.building_grid[i] as usize == gi)
            .map(|i| b.features[i].attributes[hh].as_ref().unwrap().as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(max_building > 500.0 || v.message.contains("overlap"), "an oversize grid must hold an oversize building: {}", v.message);
    }
    assert!(c.grids > 100);
    assert!(r.warnings.iter().any(|w| w.contains("point feature")), "{:?}", r.warnings);
}
