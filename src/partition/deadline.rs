//! The search's time budget (`--time-limit`): one deadline shared by every region. The division
//! itself (bisection and repair) always completes; the optional phases (recombination, restarts,
//! boundary search, MILPs, the lower bound) start only before the deadline, and each MILP/LP
//! solve gets what remains, so the best plan found so far is returned when time runs out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The end of the search's time budget, and whether some phase was cut by it.
#[derive(Debug)]
pub struct Deadline {
    end: Option<Instant>,
    reached: AtomicBool,
}

impl Deadline {
    /// A deadline `seconds` from now (none when not finite).
    pub fn after(seconds: f64) -> Deadline {
        let end = (seconds.is_finite() && seconds >= 0.0).then(|| Instant::now() + Duration::from_secs_f64(seconds.min(1e9)));
        Deadline { end, reached: AtomicBool::new(false) }
    }

    /// No deadline.
    pub fn none() -> Deadline {
        Deadline { end: None, reached: AtomicBool::new(false) }
    }

    /// Seconds left (infinite without a deadline, 0 once past it).
    pub fn remaining_s(&self) -> f64 {
        match self.end {
            None => f64::INFINITY,
            Some(end) => end.saturating_duration_since(Instant::now()).as_secs_f64(),
        }
    }

    /// True when the budget is spent; the first such answer marks the deadline as reached (a
    /// phase was skipped because of it).
    pub fn passed(&self) -> bool {
        let passed = self.end.is_some_and(|end| Instant::now() >= end);
        if passed {
            self.reached.store(true, Ordering::Relaxed);
        }
        passed
    }

    /// True when some phase was skipped or cut short by the deadline.
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// Marks the deadline as reached (a solve stopped at its time limit).
    pub fn note_reached(&self) {
        self.reached.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_is_passed_and_noted() {
        let none = Deadline::none();
        assert!(!none.passed() && !none.reached() && none.remaining_s().is_infinite());
        let spent = Deadline::after(0.0);
        assert!(!spent.reached(), "not noted before it is asked");
        assert!(spent.passed() && spent.reached() && spent.remaining_s() == 0.0);
        let later = Deadline::after(3600.0);
        assert!(!later.passed() && !later.reached() && later.remaining_s() > 3000.0);
    }
}
