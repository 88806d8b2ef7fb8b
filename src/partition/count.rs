//! Number of grids per region: from the household bounds and target, or by sharing out a fixed
//! total. A region whose households fit no whole number of grids gets the least infeasible count
//! and a band widened around its mean, so that its grids stay as balanced as possible.

use super::region::Band;

/// The count and band chosen for one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionCount {
    /// Number of grids.
    pub k: usize,
    /// Bounds the region's grids are held to (the user's bounds when `feasible`).
    pub band: Band,
    /// True when `k` grids within the user's bounds are possible by households alone.
    pub feasible: bool,
}

/// Range of grid counts whose mean load lies within [lo, hi], capped at `units`.
pub fn count_range(total: f64, units: usize, lo: f64, hi: f64) -> (usize, usize) {
    let min_k = ((total / hi) - 1e-9).ceil().max(1.0) as usize;
    let max_k = if lo > 0.0 { ((total / lo) + 1e-9).floor() as usize } else { units };
    (min_k, max_k.min(units))
}

/// Band for `k` grids over `total` households: the user's bounds, widened to hold the mean
/// with half the bounds' width of slack on each side when needed.
pub fn band_for(total: f64, k: usize, lo: f64, hi: f64) -> Band {
    let mean = total / k as f64;
    let half = 0.5 * (hi - lo);
    Band { lo: lo.min(mean - half).max(0.0), hi: hi.max(mean + half) }
}

/// Counts for regions with the given totals and unit counts, aiming at `target` households per
/// grid, or sharing `fixed_total` grids among them.
pub fn choose_counts(totals: &[f64], units: &[usize], lo: f64, hi: f64, target: f64, fixed_total: Option<usize>) -> Vec<RegionCount> {
    let ranges: Vec<(usize, usize)> = totals.iter().zip(units).map(|(&t, &n)| count_range(t, n, lo, hi)).collect();
    let ks: Vec<usize> = match fixed_total {
        None => totals
            .iter()
            .zip(&ranges)
            .zip(units)
            .map(|((&t, &(a, b)), &n)| {
                if a <= b {
                    ((t / target).round() as usize).clamp(a, b)
                } else {
                    least_infeasible(t, n, lo, hi)
                }
            })
            .collect(),
        Some(total_k) => share_out(totals, units, total_k),
    };
    ks.iter()
        .zip(totals)
        .zip(&ranges)
        .map(|((&k, &t), &(a, b))| {
            let feasible = a <= b && k >= a && k <= b;
            RegionCount { k, band: if feasible { Band { lo, hi } } else { band_for(t, k, lo, hi) }, feasible }
        })
        .collect()
}

/// For a region no whole number of grids fits: the count whose mean misses the bounds least.
fn least_infeasible(total: f64, units: usize, lo: f64, hi: f64) -> usize {
    let fewer = ((total / lo).floor() as usize).clamp(1, units.max(1)); // mean above hi
    let more = ((total / hi).ceil() as usize).clamp(1, units.max(1)); // mean below lo
    let over = total / fewer as f64 - hi;
    let under = lo - total / more as f64;
    if over <= under {
        fewer
    } else {
        more
    }
}

/// Shares `total_k` grids among regions (each gets at least one, at most its unit count) by
/// highest average (D'Hondt), so counts follow households.
fn share_out(totals: &[f64], units: &[usize], total_k: usize) -> Vec<usize> {
    let mut ks = vec![1usize; totals.len()];
    let mut left = total_k.saturating_sub(totals.len());
    while left > 0 {
        let next = (0..totals.len())
            .filter(|&r| ks[r] < units[r])
            .max_by(|&a, &b| (totals[a] / ks[a] as f64).total_cmp(&(totals[b] / ks[b] as f64)).then(b.cmp(&a)));
        match next {
            Some(r) => {
                ks[r] += 1;
                left -= 1;
            }
            None => break,
        }
    }
    ks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_target_within_range() {
        let c = choose_counts(&[4000.0], &[100], 300.0, 500.0, 400.0, None);
        assert_eq!(c[0].k, 10);
        assert!(c[0].feasible);
        // 520 households fit no whole number of 300–500 grids.
        let c = choose_counts(&[520.0], &[10], 300.0, 500.0, 400.0, None);
        assert!(!c[0].feasible);
        assert_eq!(c[0].k, 1); // 520 in one grid (20 over) beats two of 260 (40 under)
        assert!(c[0].band.hi >= 520.0);
    }

    #[test]
    fn fixed_total_is_shared_by_households() {
        let c = choose_counts(&[3000.0, 1000.0], &[100, 100], 300.0, 500.0, 400.0, Some(8));
        assert_eq!(c.iter().map(|r| r.k).sum::<usize>(), 8);
        assert_eq!(c[0].k, 6);
        assert_eq!(c[1].k, 2);
    }
}
