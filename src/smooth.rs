//! Unconstrained smooth minimisation: L-BFGS (Nocedal and Wright, *Numerical
//! Optimization*, Algorithm 7.4, two-loop recursion, memory `m`) with Armijo backtracking,
//! on the iteration driver [`crate::iterate`]. For the phase blocks of unit-modulus
//! designs written in their angles (a smooth function of `R^n`, no constraints).
//!
//! A step: direction `d = -H g` from the two-loop recursion (steepest descent when it is
//! not a descent direction), the first trial step 1 (the scaled first step
//! `1 / |g|_inf` at the start), halved until the Armijo condition
//! `f(x + t d) <= f(x) + 1e-4 t g^T d` holds; the pair `(s, y)` is kept only when
//! `s^T y > 0` (the Hessian approximation stays positive definite). The step reports
//! `gradient_norm` (`|g|_inf` at the new point); the rule stops on it, on the objective
//! change, or when no Armijo step exists (`done`).

use crate::error::Result;
use crate::iterate::{self, Criterion, IterativeAlgorithm, Rule, Step, StopReason, StoppingRule};

/// A smooth objective: value and gradient at `x`.
pub trait Smooth {
    fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>);
}

/// Settings of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsOptions {
    /// Number of `(s, y)` pairs kept.
    pub memory: usize,
    pub max_iterations: usize,
    /// Stop when the objective changes by at most this fraction of its value.
    pub rel_tol: f64,
    /// ... or by at most this much.
    pub abs_tol: f64,
    /// Stop when `|g|_inf` is at most this.
    pub gradient_tol: f64,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            memory: 10,
            max_iterations: 500,
            rel_tol: 1e-13,
            abs_tol: 0.0,
            gradient_tol: 1e-10,
        }
    }
}

/// The iterate of L-BFGS: the point, its value and gradient, and the kept pairs.
#[derive(Debug, Clone)]
pub struct LbfgsState {
    pub x: Vec<f64>,
    pub value: f64,
    pub gradient: Vec<f64>,
    pairs: Vec<(Vec<f64>, Vec<f64>)>,
}

struct Lbfgs<'f, F: Smooth> {
    objective: &'f F,
    memory: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// `-H g` by the two-loop recursion (Nocedal and Wright, Algorithm 7.4), `H_0 = gamma I`
/// with `gamma = s^T y / y^T y` of the newest pair.
fn direction(g: &[f64], pairs: &[(Vec<f64>, Vec<f64>)]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y) in pairs.iter().rev() {
        let rho = 1.0 / dot(y, s);
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
        alphas.push((a, rho));
    }
    if let Some((s, y)) = pairs.last() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|qi| *qi *= gamma);
    }
    for ((s, y), (a, rho)) in pairs.iter().zip(alphas.iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
    }
    q.iter_mut().for_each(|qi| *qi = -*qi);
    q
}

impl<F: Smooth> IterativeAlgorithm for Lbfgs<'_, F> {
    type State = LbfgsState;

    fn step(&mut self, st: &LbfgsState, _k: usize) -> Result<Step<LbfgsState>> {
        let mut d = direction(&st.gradient, &st.pairs);
        let mut slope = dot(&st.gradient, &d);
        if !(slope < 0.0) {
            d = st.gradient.iter().map(|g| -g).collect();
            slope = -dot(&st.gradient, &st.gradient);
        }
        let mut t = if st.pairs.is_empty() {
            let gmax = inf_norm(&st.gradient);
            if gmax > 0.0 {
                (1.0 / gmax).min(1.0)
            } else {
                1.0
            }
        } else {
            1.0
        };
        for _ in 0..60 {
            let x: Vec<f64> = st.x.iter().zip(&d).map(|(xi, di)| xi + t * di).collect();
            let (value, gradient) = self.objective.value_and_gradient(&x);
            if value.is_finite() && value <= st.value + 1e-4 * t * slope {
                let s: Vec<f64> = x.iter().zip(&st.x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = gradient
                    .iter()
                    .zip(&st.gradient)
                    .map(|(a, b)| a - b)
                    .collect();
                let mut pairs = st.pairs.clone();
                if dot(&s, &y) > 1e-16 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
                    pairs.push((s, y));
                    if pairs.len() > self.memory {
                        pairs.remove(0);
                    }
                }
                let gn = inf_norm(&gradient);
                let mut step = Step::new(
                    LbfgsState {
                        x,
                        value,
                        gradient,
                        pairs,
                    },
                    value,
                );
                step.metrics.push(("gradient_norm".into(), gn));
                return Ok(step);
            }
            t *= 0.5;
        }
        // no Armijo step along a descent direction: stationary to machine precision
        let mut step = Step::new(st.clone(), st.value);
        step.metrics
            .push(("gradient_norm".into(), inf_norm(&st.gradient)));
        step.done = true;
        Ok(step)
    }
}

/// The largest error of `objective`'s analytic gradient at `x` against central differences
/// with step `h`, each relative to `1 + |g_i|` (for tests of derived gradients).
pub fn gradient_error<F: Smooth>(objective: &F, x: &[f64], h: f64) -> f64 {
    let (_, g) = objective.value_and_gradient(x);
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[i] += h;
        xm[i] -= h;
        let fd =
            (objective.value_and_gradient(&xp).0 - objective.value_and_gradient(&xm).0) / (2.0 * h);
        worst = worst.max((fd - g[i]).abs() / (1.0 + g[i].abs()));
    }
    worst
}

/// The result of [`minimize`].
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub gradient_norm: f64,
    pub iterations: usize,
    pub reason: StopReason,
}

/// Minimises `objective` from `x0` by L-BFGS on the iteration driver.
pub fn minimize<F: Smooth>(objective: &F, x0: Vec<f64>, options: &LbfgsOptions) -> Minimum {
    let (value, gradient) = objective.value_and_gradient(&x0);
    let start = LbfgsState {
        x: x0,
        value,
        gradient,
        pairs: vec![],
    };
    let rule = StoppingRule {
        max_iterations: options.max_iterations,
        rel_tol: options.rel_tol,
        abs_tol: options.abs_tol,
        rules: vec![Rule::converged(
            "gradient small",
            Criterion::AtMost("gradient_norm", options.gradient_tol),
        )],
        ..StoppingRule::default()
    };
    let mut alg = Lbfgs {
        objective,
        memory: options.memory.max(1),
    };
    let r = iterate::run(&mut alg, start, value, &rule);
    let iterations = r.iterations();
    Minimum {
        gradient_norm: inf_norm(&r.state.gradient),
        x: r.state.x,
        value: r.state.value,
        iterations,
        reason: r.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function: minimum 0 at (1, 1), a curved valley that defeats steepest
    /// descent in 500 steps.
    struct Rosenbrock;
    impl Smooth for Rosenbrock {
        fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (f, g)
        }
    }

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let m = minimize(&Rosenbrock, vec![-1.2, 1.0], &LbfgsOptions::default());
        assert!(m.reason.converged(), "{:?}", m.reason);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            m.x
        );
        assert!(m.iterations < 100, "{} iterations", m.iterations);
    }

    /// A convex quadratic with condition number 1e4 in 20 dimensions: L-BFGS reaches the
    /// minimiser (known in closed form) to 1e-8.
    struct Quadratic(Vec<f64>);
    impl Smooth for Quadratic {
        fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
            let g: Vec<f64> = x
                .iter()
                .zip(&self.0)
                .enumerate()
                .map(|(i, (xi, ci))| (1.0 + i as f64 * 526.0) * (xi - ci))
                .collect();
            let f = x
                .iter()
                .zip(&self.0)
                .enumerate()
                .map(|(i, (xi, ci))| 0.5 * (1.0 + i as f64 * 526.0) * (xi - ci).powi(2))
                .sum();
            (f, g)
        }
    }

    #[test]
    fn reaches_the_minimiser_of_an_ill_conditioned_quadratic() {
        let c: Vec<f64> = (0..20).map(|i| (i as f64).sin()).collect();
        let m = minimize(
            &Quadratic(c.clone()),
            vec![0.0; 20],
            &LbfgsOptions::default(),
        );
        let err =
            m.x.iter()
                .zip(&c)
                .fold(0.0f64, |e, (a, b)| e.max((a - b).abs()));
        assert!(err < 1e-8, "error {err:.2e}, {:?}", m.reason);
    }

    #[test]
    fn the_gradient_check_finds_a_wrong_gradient() {
        assert!(gradient_error(&Rosenbrock, &[0.3, -0.4], 1e-6) < 1e-7);
        struct Wrong;
        impl Smooth for Wrong {
            fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
                (x[0] * x[0], vec![x[0]])
            }
        }
        assert!(gradient_error(&Wrong, &[1.0], 1e-6) > 0.4);
    }

    #[test]
    fn a_stationary_start_stops_at_once() {
        let m = minimize(&Rosenbrock, vec![1.0, 1.0], &LbfgsOptions::default());
        assert_eq!(m.x, vec![1.0, 1.0]);
        assert!(m.iterations <= 1);
    }
}
