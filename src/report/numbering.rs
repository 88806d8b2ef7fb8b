//! Grid ids and codes: grids numbered in reading order of their centres (bands north to south,
//! west to east inside a band), or in a re-division keeping their existing ids with new grids
//! after them; codes made of a prefix and a fixed-width number.

use geo::Coord;

use super::{GridId, GridReport, MicroGridReport};
use crate::graph::UnitGraph;
use crate::model::Model;
use crate::partition::Division;

/// How the grids of a plan are numbered.
#[derive(Debug, Clone)]
pub struct Numbering {
    /// Plan grid indices in output order (by id).
    pub order: Vec<usize>,
    /// Output position of each plan grid (the inverse of `order`).
    pub rank_of: Vec<u32>,
    /// Id of each plan grid.
    pub id_of: Vec<GridId>,
    /// Centre building of each plan grid: the unit at its centre's building with the most
    /// households.
    pub centre_building: Vec<u32>,
    /// Northernmost building position (working metres): where the reading bands start.
    pub top: f64,
    /// In a run nested in communities, the community (index into the model's communities) and
    /// the number inside it of each plan grid.
    pub nested: Option<Vec<(u32, u32)>>,
}

/// Numbers the grids of `division`: by reading order of their centre buildings in bands about
/// one grid high (`sqrt(tiled_area / grids)`), or keeping the existing ids of a re-division.
pub fn number_grids(model: &Model, graph: &UnitGraph, division: &Division, tiled_area: f64) -> Numbering {
    let plan = &division.plan;
    let n = plan.grids.len();
    let anchors: Vec<Coord<f64>> = model.buildings.iter().map(|b| b.anchor).collect();
    let centre_building: Vec<u32> = plan
        .grids
        .iter()
        .map(|g| {
            let bs = &graph.units[g.centre as usize].buildings;
            bs.iter()
                .copied()
                .max_by(|&a, &b| model.buildings[a as usize].households.total_cmp(&model.buildings[b as usize].households).then(b.cmp(&a)))
                .unwrap_or_default()
        })
        .collect();
    let band = (tiled_area / n.max(1) as f64).sqrt().max(1.0);
    let top = anchors.iter().map(|a| a.y).fold(f64::NEG_INFINITY, f64::max);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let pa = anchors[centre_building[a] as usize];
        let pb = anchors[centre_building[b] as usize];
        let ra = ((top - pa.y) / band).floor() as i64;
        let rb = ((top - pb.y) / band).floor() as i64;
        ra.cmp(&rb).then(pa.x.total_cmp(&pb.x)).then(a.cmp(&b))
    });
    let mut id_of = vec![GridId::Number(0); n];
    let mut nested = None;
    match (&division.homes, model.existing_ids()) {
        (Some(homes), Some(ids)) => {
            // Existing grids keep their id; new grids get ids after the existing ones, in
            // reading order; grids are listed by id.
            let mut fresh = crate::model::existing::new_grid_ids(ids, homes.iter().filter(|h| h.is_none()).count()).into_iter();
            for &g in &order {
                id_of[g] = match homes[g] {
                    Some(i) => ids[i as usize].clone(),
                    None => fresh.next().unwrap_or(GridId::Number(0)),
                };
            }
            order.sort_by(|&a, &b| id_of[a].cmp(&id_of[b]));
        }
        _ if model.communities.is_nested() => {
            // Grids numbered from 1 inside their community in reading order, listed by
            // community (codes ascending, the buildings in no community last): CODE-001, ...
            let community: Vec<u32> = centre_building.iter().map(|&b| model.buildings[b as usize].community).collect();
            order.sort_by_key(|&g| community[g]);
            let mut per = vec![(0u32, 0u32); n];
            let mut count = vec![0u32; model.communities.list.len()];
            for &g in &order {
                let c = community[g];
                count[c as usize] += 1;
                per[g] = (c, count[c as usize]);
            }
            let width = nested_width(&count);
            for g in 0..n {
                let (c, k) = per[g];
                id_of[g] = GridId::Text(format!("{}-{k:0width$}", model.communities.list[c as usize].code));
            }
            nested = Some(per);
        }
        _ => {
            for (rank, &g) in order.iter().enumerate() {
                id_of[g] = GridId::Number(rank as i64 + 1);
            }
        }
    }
    let mut rank_of = vec![0u32; n];
    for (r, &g) in order.iter().enumerate() {
        rank_of[g] = r as u32;
    }
    Numbering { order, rank_of, id_of, centre_building, top, nested }
}

/// Digits of a grid's number inside its community: 3, more when a community has 1,000 grids.
pub fn nested_width(grids_per_community: &[u32]) -> usize {
    digits(grids_per_community.iter().copied().max().unwrap_or(0) as i64).max(3)
}

/// Grid and micro-grid codes: the prefix and the grid number in 3 digits (more when some id
/// needs them; a text id follows the prefix as it is), micro-grids adding their number in 2
/// digits (more when some grid has more micro-grids). All codes of a run have the same width.
/// In a run nested in communities every grid has a code: the prefix (if any), the community
/// code and the grid's number in its community.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    /// The prefix; None: no codes (unless nested).
    pub prefix: Option<String>,
    /// Digits of a grid number.
    pub grid_width: usize,
    /// Digits of a micro-grid number.
    pub micro_width: usize,
    /// In a run nested in communities: the code of each grid, by id.
    pub nested: Option<std::collections::HashMap<GridId, String>>,
}

impl Codes {
    /// The codes of a run with these grids and micro-grids.
    pub fn new(prefix: Option<String>, grids: &[GridReport], micro_grids: &[MicroGridReport]) -> Codes {
        let widest = grids.iter().filter_map(|g| if let GridId::Number(n) = g.id { Some(n) } else { None }).max().unwrap_or(0);
        let micro = micro_grids.iter().map(|m| m.seq as i64).max().unwrap_or(0);
        Codes { prefix, grid_width: digits(widest).max(3), micro_width: digits(micro).max(2), nested: None }
    }

    /// The codes of a run nested in communities: `community_number[i]` is the community code
    /// and the number in it of `grids[i]`, whose numbers have `width` digits.
    pub fn nested(prefix: Option<String>, grids: &[GridReport], community_number: &[(&str, u32)], width: usize, micro_grids: &[MicroGridReport]) -> Codes {
        let p = prefix.clone().unwrap_or_default();
        let map = grids.iter().zip(community_number).map(|(g, (code, k))| (g.id.clone(), format!("{p}{code}{k:0width$}"))).collect();
        let micro = micro_grids.iter().map(|m| m.seq as i64).max().unwrap_or(0);
        Codes { prefix, grid_width: width, micro_width: digits(micro).max(2), nested: Some(map) }
    }

    /// The code of grid `id`.
    pub fn grid(&self, id: &GridId) -> Option<String> {
        if let Some(map) = &self.nested {
            return map.get(id).cloned();
        }
        let width = self.grid_width;
        self.prefix.as_ref().map(|p| match id {
            GridId::Number(n) => format!("{p}{n:0width$}"),
            GridId::Text(t) => format!("{p}{t}"),
        })
    }

    /// The code of micro-grid `seq` of grid `grid`.
    pub fn micro(&self, grid: &GridId, seq: u32) -> Option<String> {
        let width = self.micro_width;
        self.grid(grid).map(|c| format!("{c}{seq:0width$}"))
    }
}

/// Number of decimal digits of `x` (and its sign).
fn digits(x: i64) -> usize {
    x.to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_share_one_width() {
        let codes = Codes { prefix: Some("310104001".into()), grid_width: 3, micro_width: 2, nested: None };
        assert_eq!(codes.grid(&GridId::Number(7)).as_deref(), Some("310104001007"));
        assert_eq!(codes.grid(&GridId::Text("G-07".into())).as_deref(), Some("310104001G-07"));
        assert_eq!(codes.micro(&GridId::Number(7), 3).as_deref(), Some("31010400100703"));
        assert_eq!(Codes::default().grid(&GridId::Number(7)), None);
        assert_eq!((digits(0), digits(999), digits(1000), digits(-5)), (1, 3, 4, 2));
    }
}
