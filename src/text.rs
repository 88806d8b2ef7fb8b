//! Message text: counts and lists written the way every message of wangge writes them.

use std::fmt::Display;

/// A count for messages: whole numbers without decimals, others with two; huge or non-finite
/// values (bad input) as [`number`] writes them, never a saturated integer.
pub fn count(x: f64) -> String {
    if !x.is_finite() || x.abs() >= 1e15 {
        return number(x);
    }
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

/// A value read from a file, for messages: as written for ordinary magnitudes, in scientific
/// notation beyond 1e15 or below 1e-6 (`1e300`, not three hundred digits).
pub fn number(x: f64) -> String {
    if x.is_finite() && x != 0.0 && (x.abs() >= 1e15 || x.abs() < 1e-6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The first `shown` of `items` joined by `separator`, then ` and N more` for the rest: `3, 7, 9
/// and 12 more`. `total` is the number of items (an iterator may hold only the first ones).
pub fn first_of<T: Display>(items: impl IntoIterator<Item = T>, total: usize, shown: usize, separator: &str) -> String {
    let listed: Vec<String> = items.into_iter().take(shown).map(|i| i.to_string()).collect();
    let more = total.saturating_sub(listed.len());
    if more > 0 {
        format!("{} and {more} more", listed.join(separator))
    } else {
        listed.join(separator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_drop_needless_decimals() {
        assert_eq!(count(300.0), "300");
        assert_eq!(count(12.345), "12.35");
    }

    #[test]
    fn long_lists_end_with_how_many_more() {
        assert_eq!(first_of([1, 2, 3], 3, 10, ", "), "1, 2, 3");
        assert_eq!(first_of(1..=12, 12, 10, ", "), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more");
        assert_eq!(first_of(["a", "b"], 9, 2, "+"), "a+b and 7 more");
        assert_eq!(first_of(Vec::<u8>::new(), 0, 5, ", "), "");
    }
}
