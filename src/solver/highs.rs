//! HiGHS through good_lp: the model is built by good_lp, handed to HiGHS with our options, and
//! the status, objective, dual bound and values are read back.

use std::time::Instant;

use good_lp::solvers::highs::highs as highs_backend;
use good_lp::{Constraint, Expression, ProblemVariables, SolverModel};
use highs::HighsModelStatus;

use super::{SolveStatus, Solved, SolverOptions};
use crate::error::{Error, Result};

/// Minimises `objective` over `vars` subject to `constraints`, starting from `start` (a value
/// for every variable, in the order they were added) when given.
pub fn solve(
    vars: ProblemVariables,
    objective: Expression,
    constraints: Vec<Constraint>,
    start: Option<&[f64]>,
    options: &SolverOptions,
) -> Result<Solved> {
    let n = vars.len();
    let mut problem = vars.minimise(objective).using(highs_backend);
    for c in constraints {
        problem.add_constraint(c);
    }
    let mut model = problem
        .try_into_inner()
        .map_err(|e| Error::Solver { message: format!("HiGHS rejected the model: {e}") })?;
    model.make_quiet();
    let set = |model: &mut highs::Model, key: &str, ok: bool| {
        if !ok {
            return Err(Error::Solver { message: format!("HiGHS rejected option {key}") });
        }
        let _ = model;
        Ok(())
    };
    let ok = model.try_set_option("time_limit", options.time_limit_s).is_ok();
    set(&mut model, "time_limit", ok)?;
    let ok = model.try_set_option("mip_rel_gap", options.mip_gap).is_ok();
    set(&mut model, "mip_rel_gap", ok)?;
    let ok = model.try_set_option("threads", options.threads.max(1) as i32).is_ok();
    set(&mut model, "threads", ok)?;
    let _ = model.try_set_option("random_seed", 0i32);
    if let Some(nodes) = options.max_nodes {
        let ok = model.try_set_option("mip_max_nodes", nodes.min(i32::MAX as usize) as i32).is_ok();
        set(&mut model, "mip_max_nodes", ok)?;
    }
    if let Some(start) = start.filter(|s| s.len() == n) {
        let _ = model.try_set_solution(Some(start), None, None, None);
    }
    let t0 = Instant::now();
    let solved = model
        .try_solve()
        .map_err(|e| Error::Solver { message: format!("HiGHS failed while solving: {e:?}") })?;
    let seconds = t0.elapsed().as_secs_f64();
    let has_solution = solved.primal_solution_status() == highs::HighsSolutionStatus::Feasible;
    let status = match solved.status() {
        HighsModelStatus::Optimal | HighsModelStatus::ObjectiveBound | HighsModelStatus::ObjectiveTarget => SolveStatus::Optimal,
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => SolveStatus::Infeasible,
        _ if has_solution => SolveStatus::TimeLimit,
        _ => SolveStatus::NoSolution,
    };
    let objective = has_solution.then(|| solved.objective_value());
    let mip_bound = solved.double_info_value(c"mip_dual_bound").ok().filter(|b| b.is_finite());
    let bound = match status {
        SolveStatus::Optimal => mip_bound.or(objective),
        SolveStatus::TimeLimit => mip_bound,
        _ => None,
    };
    let values = if has_solution { solved.get_solution().columns().to_vec() } else { Vec::new() };
    Ok(Solved { status, objective, bound, values, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use good_lp::{constraint, variable, Expression};

    #[test]
    fn small_milp_and_lp() {
        // min x + y, x + 2y >= 3, x,y integer in [0, 5] → 2 (x=1, y=1).
        let mut vars = ProblemVariables::new();
        let x = vars.add(variable().integer().min(0).max(5));
        let y = vars.add(variable().integer().min(0).max(5));
        let s = solve(vars, Expression::from(x) + y, vec![constraint!(x + 2 * y >= 3)], None, &SolverOptions::default()).unwrap();
        assert_eq!(s.status, SolveStatus::Optimal);
        assert!((s.objective.unwrap() - 2.0).abs() < 1e-6);
        assert!((s.bound.unwrap() - 2.0).abs() < 1e-6);
        // Its LP relaxation: 1.5 (y = 1.5).
        let mut vars = ProblemVariables::new();
        let x = vars.add(variable().min(0).max(5));
        let y = vars.add(variable().min(0).max(5));
        let s = solve(vars, Expression::from(x) + y, vec![constraint!(x + 2 * y >= 3)], None, &SolverOptions::default()).unwrap();
        assert!((s.objective.unwrap() - 1.5).abs() < 1e-6);
        // Infeasible.
        let mut vars = ProblemVariables::new();
        let x = vars.add(variable().min(0).max(1));
        let s = solve(vars, Expression::from(x), vec![constraint!(x >= 2)], None, &SolverOptions::default()).unwrap();
        assert_eq!(s.status, SolveStatus::Infeasible);
    }
}
