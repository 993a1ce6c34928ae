//! One iteration driver for every iterative algorithm of the papers (SCA, alternating
//! optimisation, PDD, majorisation–minimisation, penalty loops), after argmin's
//! `Solver` + `Executor`: an algorithm implements one step; [`run`] owns the iteration
//! count, the stopping rule, the convergence history and the reason it stopped.
//!
//! Stopping rule: stop when `|f_k - f_{k-1}| <= abs_tol + rel_tol * |f_{k-1}|` (converged),
//! after `max_iterations` steps, or when the algorithm itself says it is done. For
//! algorithms whose objective must not get worse (SCA and MM are monotone by
//! construction), `monotone` records any step that worsens the objective by more than the
//! tolerance: a symptom of a bug or of an inaccurate inner solve, reported, never hidden.

use crate::error::Result;
use std::time::Instant;

/// Whether the objective is minimised or maximised (for the monotonicity check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

/// The outcome of one step.
#[derive(Debug, Clone)]
pub struct Step<S> {
    /// The new iterate.
    pub state: S,
    /// Its objective value.
    pub objective: f64,
    /// Further named quantities to record (penalty weight, constraint violation, ...).
    pub metrics: Vec<(String, f64)>,
    /// The algorithm's own verdict that it is done (e.g. a penalty loop reached its target).
    pub done: bool,
}

impl<S> Step<S> {
    pub fn new(state: S, objective: f64) -> Self {
        Step {
            state,
            objective,
            metrics: Vec::new(),
            done: false,
        }
    }
}

/// An iterative algorithm: one step from the current iterate.
pub trait IterativeAlgorithm {
    type State: Clone;
    /// Performs iteration `k` (1-based) from `state`.
    fn step(&mut self, state: &Self::State, k: usize) -> Result<Step<Self::State>>;
}

/// When to stop. Defaults: 100 iterations, relative tolerance 1e-6, absolute 0,
/// minimisation, monotonicity checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoppingRule {
    pub max_iterations: usize,
    pub rel_tol: f64,
    pub abs_tol: f64,
    pub direction: Direction,
    /// Record steps that worsen the objective beyond `monotone_tol`.
    pub monotone: bool,
    /// Relative worsening tolerated before a step counts as non-monotone: the accuracy
    /// of the inner solves, independent of how tightly the stopping rule is set.
    pub monotone_tol: f64,
}

impl Default for StoppingRule {
    fn default() -> Self {
        StoppingRule {
            max_iterations: 100,
            rel_tol: 1e-6,
            abs_tol: 0.0,
            direction: Direction::Minimize,
            monotone: true,
            monotone_tol: 1e-6,
        }
    }
}

/// Why the driver stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// The objective changed by less than the tolerance.
    Converged,
    /// `max_iterations` steps were taken.
    MaxIterations,
    /// The algorithm said it was done.
    AlgorithmDone,
    /// A step returned an error (kept as text); the last good iterate is returned.
    Failed(String),
}

/// One row of the convergence history.
#[derive(Debug, Clone, PartialEq)]
pub struct IterationRecord {
    /// 0 for the initial point.
    pub iteration: usize,
    pub objective: f64,
    pub metrics: Vec<(String, f64)>,
    /// Seconds since the start of the run.
    pub seconds: f64,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct IterationResult<S> {
    /// The last accepted iterate.
    pub state: S,
    pub objective: f64,
    pub history: Vec<IterationRecord>,
    pub reason: StopReason,
    /// Iterations whose objective worsened beyond the tolerance (monotone algorithms).
    pub non_monotone_steps: Vec<usize>,
}

impl<S> IterationResult<S> {
    /// Number of steps taken (the initial point excluded).
    pub fn iterations(&self) -> usize {
        self.history.len().saturating_sub(1)
    }
}

/// Runs `algorithm` from `initial` (with objective `initial_objective`) under `rule`.
pub fn run<A: IterativeAlgorithm>(
    algorithm: &mut A,
    initial: A::State,
    initial_objective: f64,
    rule: &StoppingRule,
) -> IterationResult<A::State> {
    let start = Instant::now();
    let mut state = initial;
    let mut objective = initial_objective;
    let mut history = vec![IterationRecord {
        iteration: 0,
        objective,
        metrics: Vec::new(),
        seconds: 0.0,
    }];
    let mut non_monotone_steps = Vec::new();
    let mut reason = StopReason::MaxIterations;
    for k in 1..=rule.max_iterations {
        let step = match algorithm.step(&state, k) {
            Ok(s) => s,
            Err(e) => {
                reason = StopReason::Failed(e.to_string());
                break;
            }
        };
        let tol = rule.abs_tol + rule.rel_tol * objective.abs();
        let change = step.objective - objective;
        let mtol = rule.abs_tol + rule.rel_tol.max(rule.monotone_tol) * objective.abs();
        let worse = match rule.direction {
            Direction::Minimize => change > mtol,
            Direction::Maximize => -change > mtol,
        };
        if rule.monotone && worse && objective.is_finite() {
            non_monotone_steps.push(k);
        }
        let converged = objective.is_finite() && change.abs() <= tol;
        history.push(IterationRecord {
            iteration: k,
            objective: step.objective,
            metrics: step.metrics,
            seconds: start.elapsed().as_secs_f64(),
        });
        state = step.state;
        objective = step.objective;
        if step.done {
            reason = StopReason::AlgorithmDone;
            break;
        }
        if converged {
            reason = StopReason::Converged;
            break;
        }
    }
    IterationResult {
        state,
        objective,
        history,
        reason,
        non_monotone_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::IsacError;

    /// Gradient descent on f(x) = (x - 3)^2 with step 0.25: x_k - 3 halves each step.
    struct Descent;
    impl IterativeAlgorithm for Descent {
        type State = f64;
        fn step(&mut self, x: &f64, _k: usize) -> Result<Step<f64>> {
            let y = x - 0.25 * 2.0 * (x - 3.0);
            Ok(Step::new(y, (y - 3.0).powi(2)))
        }
    }

    #[test]
    fn converges_with_the_expected_number_of_steps() {
        let rule = StoppingRule {
            abs_tol: 1e-12,
            rel_tol: 0.0,
            ..StoppingRule::default()
        };
        let r = run(&mut Descent, 0.0, 9.0, &rule);
        assert_eq!(r.reason, StopReason::Converged);
        assert!((r.state - 3.0).abs() < 1e-5);
        // f_k = 9 / 4^k; |f_k - f_{k-1}| = 27/4^k <= 1e-12  <=>  k >= 22.3
        assert_eq!(r.iterations(), 23);
        assert!(r.non_monotone_steps.is_empty());
        assert!(r
            .history
            .windows(2)
            .all(|w| w[1].objective <= w[0].objective));
    }

    #[test]
    fn stops_at_the_iteration_limit() {
        let rule = StoppingRule {
            max_iterations: 5,
            rel_tol: 0.0,
            ..StoppingRule::default()
        };
        let r = run(&mut Descent, 0.0, 9.0, &rule);
        assert_eq!(r.reason, StopReason::MaxIterations);
        assert_eq!(r.iterations(), 5);
        assert_eq!(r.history.len(), 6);
    }

    /// Alternates up and down: a monotone algorithm must not do this.
    struct Zigzag;
    impl IterativeAlgorithm for Zigzag {
        type State = usize;
        fn step(&mut self, s: &usize, k: usize) -> Result<Step<usize>> {
            Ok(Step::new(
                s + 1,
                if k.is_multiple_of(2) { 1.0 } else { 2.0 },
            ))
        }
    }

    #[test]
    fn records_non_monotone_steps() {
        let rule = StoppingRule {
            max_iterations: 4,
            ..StoppingRule::default()
        };
        let r = run(&mut Zigzag, 0, 1.0, &rule);
        assert_eq!(r.non_monotone_steps, vec![1, 3]);
        let rule = StoppingRule {
            direction: Direction::Maximize,
            ..rule
        };
        let r = run(&mut Zigzag, 0, 1.0, &rule);
        assert_eq!(r.non_monotone_steps, vec![2, 4]);
    }

    struct FailsAtThree;
    impl IterativeAlgorithm for FailsAtThree {
        type State = usize;
        fn step(&mut self, s: &usize, k: usize) -> Result<Step<usize>> {
            if k == 3 {
                return Err(IsacError::Numerical("inner solve failed".into()));
            }
            let mut st = Step::new(s + 1, 10.0 - k as f64);
            st.done = k == 10;
            Ok(st)
        }
    }

    #[test]
    fn a_failing_step_keeps_the_last_good_iterate() {
        let r = run(&mut FailsAtThree, 0, 10.0, &StoppingRule::default());
        assert!(matches!(r.reason, StopReason::Failed(ref m) if m.contains("inner solve")));
        assert_eq!(r.state, 2);
        assert_eq!(r.objective, 8.0);
    }
}
