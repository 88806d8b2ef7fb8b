//! Connected pieces of an implicit graph: the flood fill that the mesh regions, the cells and
//! the partition's components all need.

/// Marks a node that belongs to no piece.
pub const NO_PIECE: u32 = u32::MAX;

/// Labels the connected pieces of nodes `0..n`. `include(u)` says whether node u takes part;
/// `linked(u, v)`, for an included u, lists the neighbours v that belong to u's piece (they
/// must be included too). Pieces are numbered in order of their lowest node; returns the piece
/// of each node ([`NO_PIECE`] for excluded nodes) and the members of each piece (in visit order,
/// starting at the lowest node).
pub fn pieces(n: usize, include: impl Fn(usize) -> bool, linked: impl Fn(usize, &mut dyn FnMut(usize))) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut piece = vec![NO_PIECE; n];
    let mut all: Vec<Vec<u32>> = Vec::new();
    for start in 0..n {
        if piece[start] != NO_PIECE || !include(start) {
            continue;
        }
        let id = all.len() as u32;
        let mut members = vec![start as u32];
        piece[start] = id;
        let mut k = 0;
        while k < members.len() {
            let u = members[k] as usize;
            k += 1;
            linked(u, &mut |v| {
                if piece[v] == NO_PIECE {
                    piece[v] = id;
                    members.push(v as u32);
                }
            });
        }
        all.push(members);
    }
    (piece, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_with_a_gap() {
        // 0-1-2   3-4, node 5 excluded.
        let edges = [(0, 1), (1, 2), (3, 4), (4, 5)];
        let (piece, all) = pieces(
            6,
            |u| u != 5,
            |u, visit| {
                for &(a, b) in &edges {
                    if a == u && b != 5 {
                        visit(b);
                    } else if b == u && a != 5 {
                        visit(a);
                    }
                }
            },
        );
        assert_eq!(piece, vec![0, 0, 0, 1, 1, NO_PIECE]);
        assert_eq!(all, vec![vec![0, 1, 2], vec![3, 4]]);
    }
}
