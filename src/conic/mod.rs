//! Convex-optimisation modelling layer (a small, typed "CVXPY-lite") on top of
//! the Clarabel interior-point solver.
//!
//! * Build a [`Problem`]: real scalars/vectors, real symmetric PSD matrices
//!   ([`SymmetricVar`]) and complex Hermitian PSD matrices ([`HermitianVar`]).
//! * Combine them in [`Affine`] / [`ComplexAffine`] expressions.
//! * Add constraints: `eq/le/ge`, second-order cone, exponential cone, real and
//!   Hermitian LMIs, `log det M >= t`, `t >= 1/x`, `t >= tr U^{-1}`.
//!   Each reformulation is documented beside the method that builds it.
//! * [`Problem::solve`] returns a [`Solution`] with a [`Status`] and the values
//!   mapped back to the user's variables.
//!
//! # Trust, but re-evaluate
//! After every solve, each user constraint is re-evaluated at the returned
//! point in the user's own terms (eigenvalues for LMIs, `log det` for
//! log-det constraints, ...; the measures are tabulated in `src/conic/check.rs`) and the
//! largest *relative* violation is reported in [`Solution::max_violation`]. If
//! Clarabel says "solved" but that violation exceeds
//! [`SolverSettings::violation_tol`] (default `1e-5`), the status is downgraded
//! to [`Status::Inaccurate`]. (An unscaled log-det constraint once came back
//! "optimal" at a point where it did not hold.)
//!
//! # Scaling: callers must pass well-scaled data
//! Clarabel equilibrates the problem, but equilibration cannot repair data
//! spanning many orders of magnitude. Pass powers in units of the budget,
//! normalise Fisher-information matrices (e.g. by their trace or largest
//! eigenvalue) and keep objective coefficients O(1). As a second line of
//! defence, [`SolverSettings::normalize_rows`] (on by default) divides each
//! scalar row by the inf-norm of its coefficients, and each cone block
//! (SOC, exp, PSD) by **one** common positive factor, since cone membership is
//! invariant only under positive scaling of the whole block. Row scaling does
//! not change the primal solution.
//!
//! # Clarabel conventions used
//! Standard form `min q'x s.t. A x + s = b, s in K`; a constraint "`e(x)` in
//! cone" is the slack `s = e(x)`. `PSDTriangleConeT(n)` takes the upper
//! triangle stacked by columns, `(0,0),(0,1),(1,1),(0,2),...`, with the
//! off-diagonal entries multiplied by `sqrt 2`. The exponential cone is the
//! closure of `{(x,y,z): y exp(x/y) <= z, y > 0}` in that order; the SOC is
//! `(t, x)` with `||x|| <= t`.

// Index loops mirror the matrix formulas in the docs; keep them.
#![allow(clippy::needless_range_loop)]

mod check;
mod expr;
mod problem;
mod solve;

pub use expr::{Affine, AffineMatrix, ComplexAffine, ComplexAffineMatrix};
pub use problem::{ConstraintId, HermitianVar, Problem, Sense, SymmetricVar};
pub use solve::{Solution, SolverSettings, Status};
