//! What a re-division changed: households and buildings moved, per grid and in all.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::GridId;
use crate::model::Model;

/// The `redivision` section of summary.json.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedivisionSummary {
    /// Households whose grid changed.
    pub households_moved: f64,
    /// Buildings whose grid changed.
    pub buildings_moved: usize,
    /// Households moved / households that had a grid.
    pub share_of_households_moved: f64,
    /// Households in no existing grid (new housing, gaps).
    pub households_without_existing_grid: f64,
    /// Grids that hold exactly the buildings they held.
    pub grids_unchanged: usize,
    /// Existing grids that gained or lost buildings.
    pub grids_changed: usize,
    /// Grids that did not exist.
    pub grids_new: usize,
    /// Existing grids that are gone.
    pub grids_removed: usize,
    /// Every grid that is not unchanged.
    pub changes: Vec<GridChange>,
}

/// How one grid changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// It gained or lost buildings.
    Changed,
    /// It did not exist.
    New,
    /// It is gone.
    Removed,
}

/// One grid's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridChange {
    /// The grid.
    pub grid_id: GridId,
    /// How it changed.
    pub status: ChangeStatus,
    /// Its households now.
    pub households: f64,
    /// Households that moved in, and those of new housing (no grid before) that joined it.
    pub households_in: f64,
    /// Households that moved out.
    pub households_out: f64,
    /// Buildings that moved in, and new buildings that joined it.
    pub buildings_in: usize,
    /// Buildings that moved out.
    pub buildings_out: usize,
}

/// The changes from the model's existing division to the new grids: `building_grid` gives the
/// plan grid of each model building, `id_of` the id of each plan grid.
pub fn redivision_summary(model: &Model, building_grid: &[u32], id_of: &[GridId]) -> RedivisionSummary {
    #[derive(Default)]
    struct Tally {
        households: f64,
        households_in: f64,
        households_out: f64,
        buildings_in: usize,
        buildings_out: usize,
        existed: bool,
    }
    let existing_ids: &[GridId] = model.existing_ids().unwrap_or(&[]);
    let mut per: BTreeMap<&GridId, Tally> = BTreeMap::new();
    let mut s = RedivisionSummary::default();
    let mut with_grid = 0.0;
    for (b, bd) in model.buildings.iter().enumerate() {
        let now = &id_of[building_grid[b] as usize];
        per.entry(now).or_default().households += bd.households;
        let Some(before) = bd.existing_grid else {
            // New housing (or a building in a gap) joins its grid: the grid is no longer the
            // same, though nothing moved.
            s.households_without_existing_grid += bd.households;
            let t = per.entry(now).or_default();
            t.households_in += bd.households;
            t.buildings_in += 1;
            continue;
        };
        let before = &existing_ids[before as usize];
        with_grid += bd.households;
        per.entry(before).or_default().existed = true;
        if before != now {
            s.households_moved += bd.households;
            s.buildings_moved += 1;
            let t = per.entry(now).or_default();
            t.households_in += bd.households;
            t.buildings_in += 1;
            let t = per.entry(before).or_default();
            t.households_out += bd.households;
            t.buildings_out += 1;
        }
    }
    let finals: HashSet<&GridId> = id_of.iter().collect();
    for (id, t) in &per {
        let status = match (t.existed, finals.contains(id)) {
            (true, false) => ChangeStatus::Removed,
            (false, _) => ChangeStatus::New,
            (true, true) if t.households_in == 0.0 && t.households_out == 0.0 && t.buildings_in == 0 && t.buildings_out == 0 => {
                s.grids_unchanged += 1;
                continue;
            }
            _ => ChangeStatus::Changed,
        };
        match status {
            ChangeStatus::Removed => s.grids_removed += 1,
            ChangeStatus::New => s.grids_new += 1,
            ChangeStatus::Changed => s.grids_changed += 1,
        }
        s.changes.push(GridChange {
            grid_id: (*id).clone(),
            status,
            households: t.households,
            households_in: t.households_in,
            households_out: t.households_out,
            buildings_in: t.buildings_in,
            buildings_out: t.buildings_out,
        });
    }
    s.share_of_households_moved = if with_grid > 0.0 { s.households_moved / with_grid } else { 0.0 };
    s
}
