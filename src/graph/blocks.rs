//! Blocks: the enclosures that streets (compound outlines among them), barriers and the
//! territory boundary cut the territory into (the triangles connected without crossing a street
//! or a barrier edge), and the block of each unit (the block of its footprint's largest part).

use super::cells::Cells;
use super::mesh::{Mesh, NONE};

/// The blocks of the territory.
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    /// Block of each unit ([`NONE`] for a unit without a triangle).
    pub block_of_unit: Vec<u32>,
    /// Number of blocks holding at least one unit.
    pub with_buildings: usize,
    /// Number of blocks in all (empty ones included: parks, squares, open land).
    pub count: usize,
}

/// Numbers the blocks of `mesh` and finds each unit's block.
pub fn blocks_of(mesh: &Mesh, cells: &Cells) -> Blocks {
    let (block, members) = crate::pieces::pieces(mesh.len(), |_| true, |t, visit| {
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb != NONE && !mesh.is_barrier(t, i) && !mesh.is_street(t, i) {
                visit(nb as usize);
            }
        }
    });
    let n_units = cells.unit_buildings.len();
    // Footprint area of each unit in each block it touches: the largest wins.
    let mut best: Vec<(f64, u32)> = vec![(0.0, NONE); n_units];
    let mut area: rustc_hash::FxHashMap<(u32, u32), f64> = rustc_hash::FxHashMap::default();
    for t in 0..mesh.len() {
        let owner = mesh.footprint_owner[t];
        if owner == NONE {
            continue;
        }
        let u = cells.unit_of_building[owner as usize];
        *area.entry((u, block[t])).or_insert(0.0) += mesh.area(t);
    }
    let mut keys: Vec<_> = area.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for ((u, b), a) in keys {
        if a > best[u as usize].0 {
            best[u as usize] = (a, b);
        }
    }
    let block_of_unit: Vec<u32> = best.into_iter().map(|(_, b)| b).collect();
    let mut used: Vec<u32> = block_of_unit.iter().copied().filter(|&b| b != NONE).collect();
    used.sort_unstable();
    used.dedup();
    Blocks { block_of_unit, with_buildings: used.len(), count: members.len() }
}

/// The number of blocks whose units lie in more than one grid.
pub fn blocks_split(blocks: &Blocks, grid_of_unit: &[u32]) -> usize {
    groups_split(&blocks.block_of_unit, grid_of_unit)
}

/// The number of groups (blocks, compounds: `group_of[i]` for item i, [`NONE`] for none) whose
/// items lie in more than one grid (`grid_of[i]`, [`NONE`] ignored).
pub fn groups_split(group_of: &[u32], grid_of: &[u32]) -> usize {
    let mut pairs: Vec<(u32, u32)> = group_of.iter().zip(grid_of).filter(|(&b, &g)| b != NONE && g != NONE).map(|(&b, &g)| (b, g)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut split = 0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i + 1;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        if j - i > 1 {
            split += 1;
        }
        i = j;
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_split_when_its_units_have_two_grids() {
        let blocks = Blocks { block_of_unit: vec![0, 0, 1, 1, 2, NONE], with_buildings: 3, count: 4 };
        assert_eq!(blocks_split(&blocks, &[0, 0, 0, 1, 2, 3]), 1);
        assert_eq!(blocks_split(&blocks, &[0, 0, 1, 1, 2, 3]), 0);
        assert_eq!(blocks_split(&blocks, &[0, 1, 2, 3, 4, 5]), 2);
    }
}
