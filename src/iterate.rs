//! One iteration driver for every iterative algorithm of the papers (SCA, alternating
//! optimisation, PDD, majorisation–minimisation, penalty loops, Lloyd's k-means), after
//! argmin's `Solver` + `Executor`: an algorithm implements one step and reports what it
//! measured; [`run`] owns the iteration count, the stopping rules, the convergence history
//! and the reason it stopped.
//!
//! **Stopping.** After step `k` the driver stops, first match wins:
//! 1. when the algorithm itself says it is done ([`Step::done`], e.g. a feasibility phase
//!    that reached a feasible point) -> [`StopReason::AlgorithmDone`];
//! 2. when one of the rule's declared [`Rule`]s holds, in declaration order: a named
//!    [`Criterion`] on the step's reported metrics (a metric below a tolerance, a metric
//!    at least a value, from some iteration on, all-of / any-of) -> [`StopReason::CriteriaMet`]
//!    or [`StopReason::Stalled`] with the rule's name, by its [`Outcome`];
//! 3. when the objective test is on and `|f_k - f_{k-1}| <= abs_tol + rel_tol |f_{k-1}|`
//!    -> [`StopReason::Converged`];
//! 4. after `max_iterations` steps -> [`StopReason::MaxIterations`].
//!
//! A step that fails ends the run with [`StopReason::Failed`] and the last good iterate. A
//! rule that reads a metric the step did not report is a programming error, and also ends
//! the run as `Failed`, with that step's iterate kept (never a rule that silently cannot
//! fire).
//!
//! **History.** Every [`IterationRecord`] lists the declared rules that held at its step
//! (`fired`); the record after which the driver stopped carries the reason (`stop`).
//!
//! **Monotonicity.** For algorithms whose objective must not get worse (SCA, MM and
//! Lloyd's iterations are monotone by construction), `monotone` records any step that
//! worsens the objective by more than the tolerance: a symptom of a bug or of an
//! inaccurate inner solve, reported, never hidden.

use crate::error::Result;
use std::fmt;
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
    /// Named quantities the step measured (penalty weight, distance between consecutive
    /// iterates, constraint violation, ...): recorded in the history, and read by the
    /// rule's [`Criterion`]s.
    pub metrics: Vec<(String, f64)>,
    /// The algorithm's own verdict that it is done. Prefer a [`Rule`] on a metric; this
    /// is for a phase whose end is its purpose (the multistatic Phase I stops at the first
    /// rate-feasible point).
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

    /// The value of metric `name`, if the step reported it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        metric(&self.metrics, name)
    }
}

fn metric(metrics: &[(String, f64)], name: &str) -> Option<f64> {
    metrics.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
}

/// An iterative algorithm: one step from the current iterate.
pub trait IterativeAlgorithm {
    type State: Clone;
    /// Performs iteration `k` (1-based) from `state`.
    fn step(&mut self, state: &Self::State, k: usize) -> Result<Step<Self::State>>;
}

/// A test on one step: its iteration number `k` and the metrics it reported. A NaN metric
/// satisfies no comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// `metric <= bound` (e.g. the distance of relaxed binaries from {0, 1}).
    AtMost(&'static str, f64),
    /// `metric < bound` (strict).
    Below(&'static str, f64),
    /// `metric >= bound` (e.g. a penalty schedule at its end: `mu >= mu_max`).
    AtLeast(&'static str, f64),
    /// `k >= n`: the criterion can hold only from iteration `n` on.
    FromIteration(usize),
    /// Every criterion holds (`true` for an empty list).
    AllOf(Vec<Criterion>),
    /// Some criterion holds (`false` for an empty list).
    AnyOf(Vec<Criterion>),
}

impl Criterion {
    /// Whether the criterion holds at step `k` with `metrics`; `Err(name)` when it reads a
    /// metric that is not among them. All sub-criteria are evaluated (no short cut), so a
    /// missing metric is found whatever the values.
    pub fn holds(&self, k: usize, metrics: &[(String, f64)]) -> std::result::Result<bool, String> {
        let value = |name: &'static str| metric(metrics, name).ok_or_else(|| name.to_string());
        Ok(match self {
            Criterion::AtMost(name, bound) => value(name)? <= *bound,
            Criterion::Below(name, bound) => value(name)? < *bound,
            Criterion::AtLeast(name, bound) => value(name)? >= *bound,
            Criterion::FromIteration(n) => k >= *n,
            Criterion::AllOf(cs) => {
                let mut all = true;
                for c in cs {
                    all &= c.holds(k, metrics)?;
                }
                all
            }
            Criterion::AnyOf(cs) => {
                let mut any = false;
                for c in cs {
                    any |= c.holds(k, metrics)?;
                }
                any
            }
        })
    }
}

/// What stopping on a [`Rule`] means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The algorithm's convergence test: the iterate is an answer.
    Converged,
    /// No further progress is possible (a fixed point of an alternation short of the
    /// goal, no iterate change): the iterate is the best found, not a converged answer.
    Stalled,
}

/// A named stopping criterion an algorithm declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name in the field's words, reported in the history and the stop reason.
    pub name: &'static str,
    pub outcome: Outcome,
    pub when: Criterion,
}

impl Rule {
    pub fn converged(name: &'static str, when: Criterion) -> Self {
        Rule {
            name,
            outcome: Outcome::Converged,
            when,
        }
    }

    pub fn stalled(name: &'static str, when: Criterion) -> Self {
        Rule {
            name,
            outcome: Outcome::Stalled,
            when,
        }
    }
}

/// When to stop. Defaults: 100 iterations, objective test on with relative tolerance
/// 1e-6 and absolute 0, no declared rules, minimisation, monotonicity checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppingRule {
    pub max_iterations: usize,
    /// Whether the objective-change test applies. Off for algorithms whose objective
    /// changes between steps (a growing penalty): they declare `rules` instead.
    pub objective_test: bool,
    pub rel_tol: f64,
    pub abs_tol: f64,
    /// The algorithm's declared criteria, tried in order before the objective test.
    pub rules: Vec<Rule>,
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
            objective_test: true,
            rel_tol: 1e-6,
            abs_tol: 0.0,
            rules: Vec::new(),
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
    /// A declared rule with [`Outcome::Converged`] held (its name).
    CriteriaMet(&'static str),
    /// A declared rule with [`Outcome::Stalled`] held (its name).
    Stalled(&'static str),
    /// `max_iterations` steps were taken without any rule holding.
    MaxIterations,
    /// The algorithm said it was done ([`Step::done`]).
    AlgorithmDone,
    /// A step returned an error, or a rule read a metric the step did not report (kept as
    /// text); the last good iterate is returned.
    Failed(String),
}

impl StopReason {
    /// Whether the run ended on a convergence test (the objective test, a declared
    /// converged rule, or the algorithm's own verdict).
    pub fn converged(&self) -> bool {
        matches!(
            self,
            StopReason::Converged | StopReason::CriteriaMet(_) | StopReason::AlgorithmDone
        )
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Converged => write!(f, "converged (objective change within tolerance)"),
            StopReason::CriteriaMet(rule) => write!(f, "converged ({rule})"),
            StopReason::Stalled(rule) => write!(f, "stalled ({rule})"),
            StopReason::MaxIterations => write!(f, "iteration limit reached"),
            StopReason::AlgorithmDone => write!(f, "done"),
            StopReason::Failed(e) => write!(f, "failed: {e}"),
        }
    }
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
    /// The declared rules that held at this step (by name), in declaration order.
    pub fired: Vec<&'static str>,
    /// On the last record: why the driver stopped after it.
    pub stop: Option<StopReason>,
}

impl IterationRecord {
    /// The value of metric `name`, if the step reported it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        metric(&self.metrics, name)
    }
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
        fired: Vec::new(),
        stop: None,
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
        let converged = rule.objective_test && objective.is_finite() && change.abs() <= tol;
        // the declared rules, in order: all evaluated (the history lists every one that
        // held), the first that held decides
        let mut fired = Vec::new();
        let mut first: Option<StopReason> = None;
        for r in &rule.rules {
            match r.when.holds(k, &step.metrics) {
                Ok(true) => {
                    fired.push(r.name);
                    first.get_or_insert(match r.outcome {
                        Outcome::Converged => StopReason::CriteriaMet(r.name),
                        Outcome::Stalled => StopReason::Stalled(r.name),
                    });
                }
                Ok(false) => {}
                Err(missing) => {
                    // the step itself is good: its iterate is kept, the run ends
                    first = Some(StopReason::Failed(format!(
                        "stopping rule \"{}\" reads metric \"{missing}\", which step {k} did not report",
                        r.name
                    )));
                    break;
                }
            }
        }
        history.push(IterationRecord {
            iteration: k,
            objective: step.objective,
            metrics: step.metrics,
            seconds: start.elapsed().as_secs_f64(),
            fired,
            stop: None,
        });
        state = step.state;
        objective = step.objective;
        let stop = if matches!(first, Some(StopReason::Failed(_))) {
            first
        } else if step.done {
            Some(StopReason::AlgorithmDone)
        } else if first.is_some() {
            first
        } else if converged {
            Some(StopReason::Converged)
        } else {
            None
        };
        if let Some(stop) = stop {
            reason = stop;
            break;
        }
    }
    if let Some(last) = history.last_mut() {
        last.stop = Some(reason.clone());
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
    /// Reports the iterate change `|x_k - x_{k-1}| = 3 / 2^k` (from x_0 = 0).
    struct Descent;
    impl IterativeAlgorithm for Descent {
        type State = f64;
        fn step(&mut self, x: &f64, _k: usize) -> Result<Step<f64>> {
            let y = x - 0.25 * 2.0 * (x - 3.0);
            let mut st = Step::new(y, (y - 3.0).powi(2));
            st.metrics.push(("iterate_change".into(), (y - x).abs()));
            Ok(st)
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
        // the reason is on the last record only
        assert_eq!(r.history[23].stop, Some(StopReason::Converged));
        assert!(r.history[..23].iter().all(|h| h.stop.is_none()));
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
        assert_eq!(r.history[5].stop, Some(StopReason::MaxIterations));
        assert!(!r.reason.converged());
    }

    #[test]
    fn without_the_objective_test_only_the_limit_stops() {
        // with rel_tol = 1 the objective test would stop at k = 1: |f_1 - f_0| = 27/4 <= 9
        let rule = StoppingRule {
            max_iterations: 7,
            objective_test: false,
            rel_tol: 1.0,
            ..StoppingRule::default()
        };
        let r = run(&mut Descent, 0.0, 9.0, &rule);
        assert_eq!(r.reason, StopReason::MaxIterations);
        assert_eq!(r.iterations(), 7);
    }

    #[test]
    fn a_metric_below_a_tolerance_stops_with_the_rules_name() {
        // |x_k - x_{k-1}| = 3 / 2^k <= 1e-3  <=>  2^k >= 3000  <=>  k >= 11.55
        let rule = StoppingRule {
            objective_test: false,
            rules: vec![Rule::stalled(
                "iterate settled",
                Criterion::AtMost("iterate_change", 1e-3),
            )],
            ..StoppingRule::default()
        };
        let r = run(&mut Descent, 0.0, 9.0, &rule);
        assert_eq!(r.reason, StopReason::Stalled("iterate settled"));
        assert_eq!(r.iterations(), 12);
        let last = r.history.last().unwrap();
        assert_eq!(last.fired, vec!["iterate settled"]);
        assert_eq!(last.stop, Some(StopReason::Stalled("iterate settled")));
        assert!(last.metric("iterate_change").unwrap() <= 1e-3);
        assert!(r.history[11].metric("iterate_change").unwrap() > 1e-3);
        assert!(r.history[..12].iter().all(|h| h.fired.is_empty()));
        assert!(!r.reason.converged());
    }

    #[test]
    fn strict_and_non_strict_bounds_differ_at_equality() {
        // |x_1 - x_0| = 1.5 exactly
        for (when, stops_at_one) in [
            (Criterion::AtMost("iterate_change", 1.5), true),
            (Criterion::Below("iterate_change", 1.5), false),
        ] {
            let rule = StoppingRule {
                objective_test: false,
                max_iterations: 1,
                rules: vec![Rule::converged("bound", when)],
                ..StoppingRule::default()
            };
            let r = run(&mut Descent, 0.0, 9.0, &rule);
            assert_eq!(r.reason == StopReason::CriteriaMet("bound"), stops_at_one);
        }
    }

    /// A penalty continuation in miniature: `mu_k = min(2^k, 16)` and a relaxed binary
    /// `x_k = 1 / (1 + k)` whose distance from {0, 1} is reported as `gap`.
    struct Schedule;
    impl IterativeAlgorithm for Schedule {
        type State = usize;
        fn step(&mut self, _s: &usize, k: usize) -> Result<Step<usize>> {
            let mut st = Step::new(k, 1.0);
            st.metrics
                .push(("mu".into(), 2f64.powi(k as i32).min(16.0)));
            st.metrics.push(("gap".into(), 1.0 / (1.0 + k as f64)));
            Ok(st)
        }
    }

    fn schedule_rule(rules: Vec<Rule>) -> StoppingRule {
        StoppingRule {
            objective_test: false,
            max_iterations: 50,
            rules,
            ..StoppingRule::default()
        }
    }

    #[test]
    fn all_of_needs_every_criterion_and_any_of_one() {
        // gap <= 0.1 from k = 9 on; mu >= 16 from k = 4 on
        let all = Criterion::AllOf(vec![
            Criterion::AtLeast("mu", 16.0),
            Criterion::AtMost("gap", 0.1),
        ]);
        let r = run(
            &mut Schedule,
            0,
            1.0,
            &schedule_rule(vec![Rule::converged("binary at the final penalty", all)]),
        );
        assert_eq!(
            r.reason,
            StopReason::CriteriaMet("binary at the final penalty")
        );
        assert_eq!(r.state, 9);
        let any = Criterion::AnyOf(vec![
            Criterion::AtLeast("mu", 16.0),
            Criterion::AtMost("gap", 0.1),
        ]);
        let r = run(
            &mut Schedule,
            0,
            1.0,
            &schedule_rule(vec![Rule::converged("either", any)]),
        );
        assert_eq!(r.state, 4);
        // empty lists: all-of holds, any-of does not
        let r = run(
            &mut Schedule,
            0,
            1.0,
            &schedule_rule(vec![Rule::converged("none", Criterion::AnyOf(vec![]))]),
        );
        assert_eq!(r.reason, StopReason::MaxIterations);
        let r = run(
            &mut Schedule,
            0,
            1.0,
            &schedule_rule(vec![Rule::converged("vacuous", Criterion::AllOf(vec![]))]),
        );
        assert_eq!(r.state, 1);
    }

    #[test]
    fn from_iteration_delays_a_rule() {
        let when = Criterion::AllOf(vec![
            Criterion::FromIteration(6),
            Criterion::AtLeast("mu", 16.0),
        ]);
        let r = run(
            &mut Schedule,
            0,
            1.0,
            &schedule_rule(vec![Rule::stalled("late", when)]),
        );
        assert_eq!(r.reason, StopReason::Stalled("late"));
        assert_eq!(r.state, 6);
    }

    #[test]
    fn the_first_declared_rule_decides_and_every_holding_rule_is_recorded() {
        let rules = vec![
            Rule::stalled("penalty at its maximum", Criterion::AtLeast("mu", 16.0)),
            Rule::converged("from four on", Criterion::FromIteration(4)),
        ];
        let r = run(&mut Schedule, 0, 1.0, &schedule_rule(rules));
        assert_eq!(r.state, 4);
        assert_eq!(r.reason, StopReason::Stalled("penalty at its maximum"));
        assert_eq!(
            r.history.last().unwrap().fired,
            vec!["penalty at its maximum", "from four on"]
        );
    }

    #[test]
    fn declared_rules_come_before_the_objective_test() {
        // Schedule's objective is constant: the objective test holds at k = 1 too
        let rule = StoppingRule {
            objective_test: true,
            ..schedule_rule(vec![Rule::converged("first", Criterion::FromIteration(1))])
        };
        let r = run(&mut Schedule, 0, 1.0, &rule);
        assert_eq!(r.reason, StopReason::CriteriaMet("first"));
        let rule = StoppingRule {
            objective_test: true,
            ..schedule_rule(vec![Rule::converged("later", Criterion::FromIteration(3))])
        };
        let r = run(&mut Schedule, 0, 1.0, &rule);
        assert_eq!(r.reason, StopReason::Converged);
        assert_eq!(r.iterations(), 1);
    }

    #[test]
    fn a_rule_on_an_unreported_metric_fails_loudly() {
        let rule = schedule_rule(vec![Rule::converged(
            "settled",
            Criterion::AnyOf(vec![
                Criterion::FromIteration(1),
                Criterion::AtMost("relative_change", 1e-3),
            ]),
        )]);
        let r = run(&mut Schedule, 0, 1.0, &rule);
        assert!(
            matches!(r.reason, StopReason::Failed(ref m) if m.contains("\"relative_change\"") && m.contains("\"settled\"")),
            "{:?}",
            r.reason
        );
        // the step itself succeeded: its iterate is kept
        assert_eq!(r.state, 1);
        assert_eq!(r.history.last().unwrap().stop, Some(r.reason.clone()));
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
        assert_eq!(r.history[2].stop, Some(r.reason.clone()));
    }

    /// Done at step 2, while a declared rule also holds there.
    struct DoneAtTwo;
    impl IterativeAlgorithm for DoneAtTwo {
        type State = usize;
        fn step(&mut self, _s: &usize, k: usize) -> Result<Step<usize>> {
            let mut st = Step::new(k, -(k as f64));
            st.done = k == 2;
            Ok(st)
        }
    }

    #[test]
    fn the_algorithms_verdict_comes_first() {
        let rule = StoppingRule {
            objective_test: false,
            rules: vec![Rule::stalled("from two on", Criterion::FromIteration(2))],
            ..StoppingRule::default()
        };
        let r = run(&mut DoneAtTwo, 0, 0.0, &rule);
        assert_eq!(r.reason, StopReason::AlgorithmDone);
        assert!(r.reason.converged());
        assert_eq!(r.state, 2);
        assert_eq!(r.history[2].fired, vec!["from two on"]);
    }

    #[test]
    fn reasons_read_in_words() {
        assert_eq!(
            StopReason::Stalled("fixed point").to_string(),
            "stalled (fixed point)"
        );
        assert_eq!(
            StopReason::CriteriaMet("binary").to_string(),
            "converged (binary)"
        );
        assert_eq!(
            StopReason::MaxIterations.to_string(),
            "iteration limit reached"
        );
    }
}
