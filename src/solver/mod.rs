//! MILP/LP solving: models are written with `good_lp` and solved by HiGHS (one file per
//! solver, as in good_lp), with the time limit, MIP gap and threads of the configuration, an
//! optional starting solution, and the solver's proven bound reported back.

pub mod highs;

pub use self::highs::solve;

/// Limits of a solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Wall-clock limit in seconds.
    pub time_limit_s: f64,
    /// Relative MIP gap at which to stop.
    pub mip_gap: f64,
    /// Solver threads.
    pub threads: usize,
    /// Branch-and-bound nodes at most: a deterministic work limit (the time limit is not).
    pub max_nodes: Option<usize>,
}

impl SolverOptions {
    /// The limits of the configuration's solver settings, with a node limit when given.
    pub fn of(config: &crate::config::SolverConfig, max_nodes: Option<usize>) -> SolverOptions {
        SolverOptions { time_limit_s: config.time_limit_s, mip_gap: config.mip_gap, threads: config.solver_threads, max_nodes }
    }
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions { time_limit_s: 60.0, mip_gap: 1e-4, threads: 1, max_nodes: None }
    }
}

/// How a solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolveStatus {
    /// Optimal within the MIP gap.
    Optimal,
    /// Stopped by the time limit with a feasible solution.
    TimeLimit,
    /// Proven infeasible.
    Infeasible,
    /// Stopped without any feasible solution.
    NoSolution,
}

/// The outcome of a solve.
#[derive(Debug, Clone)]
pub struct Solved {
    /// How it ended.
    pub status: SolveStatus,
    /// Objective of the best solution found (minimisation), when one was found.
    pub objective: Option<f64>,
    /// Proven lower bound on the optimum (the objective for an LP solved to optimality).
    pub bound: Option<f64>,
    /// Value of each variable (in the order they were added), when a solution was found.
    pub values: Vec<f64>,
    /// Wall time of the solve (s).
    pub seconds: f64,
}

impl Solved {
    /// Relative gap between the solution and the bound, when both are known.
    pub fn gap(&self) -> Option<f64> {
        match (self.objective, self.bound) {
            (Some(o), Some(b)) if o.abs() > 1e-12 => Some(((o - b) / o.abs()).max(0.0)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        }
    }
}
