//! Apportionment: a total shared among parts in proportion to weights, in whole numbers when the
//! total is whole (largest remainder method), so the parts always add up to the total exactly.

/// Shares `total` among parts in proportion to `weights` (all zero: equal shares). A whole
/// `total` gives whole shares by the largest remainder method (ties to the lower index); any
/// other total gives proportional fractions. The shares sum to `total`.
pub fn apportion(total: f64, weights: &[f64]) -> Vec<f64> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: f64 = weights.iter().sum();
    let share: Vec<f64> = if sum > 0.0 {
        weights.iter().map(|w| total * w / sum).collect()
    } else {
        vec![total / n as f64; n]
    };
    let whole = (total - total.round()).abs() < 1e-9 && total.abs() < 9e15;
    if !whole {
        return share;
    }
    let mut out: Vec<f64> = share.iter().map(|s| s.floor()).collect();
    let left = (total.round() - out.iter().sum::<f64>()).round().max(0.0) as usize;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| (share[b] - out[b]).total_cmp(&(share[a] - out[a])).then(a.cmp(&b)));
    for &i in order.iter().cycle().take(left) {
        out[i] += 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::apportion;

    #[test]
    fn whole_totals_stay_whole_and_exact() {
        let s = apportion(10.0, &[1.0, 1.0, 1.0]);
        assert_eq!(s, vec![4.0, 3.0, 3.0]);
        let s = apportion(1000.0, &[120.0, 0.0, 333.3, 47.1, 900.0]);
        assert_eq!(s.iter().sum::<f64>(), 1000.0);
        assert_eq!(s[1], 0.0);
        assert!(s.iter().all(|x| x.fract() == 0.0));
        // Each share is within one of the exact proportion.
        let w = [120.0, 0.0, 333.3, 47.1, 900.0];
        let sum: f64 = w.iter().sum();
        for (x, wi) in s.iter().zip(w) {
            assert!((x - 1000.0 * wi / sum).abs() < 1.0);
        }
    }

    #[test]
    fn fractional_totals_are_proportional() {
        let s = apportion(2.5, &[1.0, 4.0]);
        assert!((s[0] - 0.5).abs() < 1e-12 && (s[1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn zero_weights_share_equally() {
        assert_eq!(apportion(7.0, &[0.0, 0.0]), vec![4.0, 3.0]);
        assert!(apportion(5.0, &[]).is_empty());
    }
}
