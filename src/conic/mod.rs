//! Convex-optimisation modelling layer (a small, typed "CVXPY-lite") on top of
//! the Clarabel interior-point solver.
//!
//! * Build a [`Problem`]: real scalars/vectors, real symmetric PSD matrices
//!   ([`SymmetricVar`]) and complex Hermitian PSD matrices ([`HermitianVar`]).
//! * Combine them in [`Affine`] / [`ComplexAffine`] expressions.
//! * Add constraints: `eq/le/ge`, second-order cone, exponential cone, real and
//!   Hermitian LMIs, `log det M >= t`, `t >= 1/x`, `t >= tr U^{-1}`.
//!   Each reformulation is documented beside the method that builds it.
//! * [`Problem::solve`] returns a [`Solution`] with a checked [`Status`] and
//!   the values mapped back to the user's variables.
//!
//! # Every answer is checked: the typed result
//! [`Problem::solve`] returns a [`Solution`] whose [`Status`] is one of
//!
//! * [`Status::Optimal`] `{ accuracy }`: Clarabel reported `Solved`
//!   ([`Accuracy::Full`]) or `AlmostSolved` ([`Accuracy::Reduced`]) **and**
//!   every user constraint, re-evaluated at the returned point in the user's
//!   own terms (eigenvalues for LMIs, `log det` for log-det constraints, ...),
//!   holds to [`SolverSettings::violation_tol`] (default `1e-5`) in the scaled
//!   measure of `src/conic/check.rs`. A reduced-accuracy answer is accepted
//!   only after this measurement, exactly like a full one. (An unscaled
//!   log-det constraint once came back "optimal" at a point where it did not hold.)
//! * [`Status::Infeasible`] `{ accuracy }`: a Farkas certificate, full or
//!   reduced accuracy, that passed the same check (`A'z = 0`, `b'z < 0`).
//! * [`Status::Unbounded`]: a direction checked against every constraint's
//!   recession cone.
//! * [`Status::Inaccurate`] `{ cause }` with a typed [`Inaccuracy`]: the
//!   gate failed ([`Inaccuracy::ViolationGate`]), Clarabel stopped
//!   ([`Inaccuracy::SolverStopped`] with a [`StopCause`]), or a certificate
//!   failed its check ([`Inaccuracy::CertificateRejected`]). `Display` gives
//!   the human reason; callers match on the types, never on strings.
//!
//! [`Solution::violation`] carries the worst measured violation (absolute, in
//! the constraint's units, and scaled, with the constraint's id),
//! [`Solution::violations`] the scaled one per constraint, and
//! [`Solution::attempts`] every Clarabel call that produced it.
//!
//! # One retry policy
//! [`SolverSettings::fallbacks`] lists [`Fallback`]s (another KKT backend,
//! Clarabel's default tolerances) tried in order while the answer is
//! `Inaccurate`; the first answer that is not is returned. Systems put their
//! retries there instead of in their own loops.
//!
//! # Scaling: callers must pass well-scaled data (row normalisation is opt-in)
//! Clarabel equilibrates the problem (modified Ruiz scaling of the rows and
//! columns of `A`, uniform within each cone block since cone membership is
//! invariant only under positive scaling of the whole block), but
//! equilibration cannot repair data spanning many orders of magnitude. Pass
//! powers in units of the budget, normalise Fisher-information matrices (e.g.
//! by their trace or largest eigenvalue) and keep objective coefficients O(1).
//!
//! [`SolverSettings::normalize_rows`] divides each scalar row (and each cone
//! block, by one common positive factor) by the inf-norm of its coefficients
//! before calling Clarabel. It used to be on by default and every system
//! turned it off: it scales scalar rows independently of the PSD and
//! exponential blocks they are balanced against, which made Clarabel stall at
//! `AlmostSolved` (backscatter, Scenario II with a rate constraint), let
//! `AlmostSolved` answers violate log-det rows by up to `1e-2` (multi-static
//! SCA; those answers were accepted because the re-check ran only for
//! `Solved`) and end in `NumericalError` (network, pure-SINR case). It is now
//! **off by default** and offered as [`Fallback::NormalizeRows`]: since every
//! answer, reduced accuracy included, passes the violation gate in the user's
//! unscaled terms, a normalised solve can no longer return a violated point
//! as optimal, and on data spanning 18 orders of magnitude (`tests/conic.rs`,
//! `badly_scaled_problem_is_consistent`) it recovers the optimum where
//! Clarabel alone returns a bogus unboundedness certificate (rejected by the
//! check). Row scaling never changes the primal solution.
//!
//! # Problem identity
//! Every [`Problem`] has a unique id; its variables (scalars, vectors,
//! [`SymmetricVar`], [`HermitianVar`]) carry it, and an expression built from
//! variables of another problem is rejected when used in a constraint or the
//! objective (at once by the builders that return `Result`, otherwise by
//! [`Problem::solve`]), instead of silently addressing the wrong unknowns.
//!
//! # Scale
//! [`Affine`] keeps its terms as a sorted sparse vector (a sum is one merge, a
//! long sum one sort), the matrix-variable builders (`trace_with`,
//! `quad_form`, `congruence`) write their `n^2` coefficients directly in
//! storage order, and lowering assembles `A` directly in compressed-column
//! form. Built programs are re-used across iterations by replacing only the
//! constraints whose data changed ([`Problem::replace_le`] and its
//! siblings, [`Problem::replace_lmi_symmetric`]) and re-lowering, which is
//! linear in the number of nonzeros; `bench_hermitian_sdp` (module `bench`)
//! times build and solve of a 64x64 Hermitian SDP of the near-field kind.
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

pub mod bench;
mod check;
pub mod crb;
mod expr;
mod problem;
mod solve;

pub use bench::{bench_hermitian_sdp, HermitianSdpBench};
pub use check::{Measure, Violation};
pub use expr::{Affine, AffineMatrix, ComplexAffine, ComplexAffineMatrix};
pub use problem::{ConstraintId, HermitianVar, Problem, Sense, SymmetricVar};
pub use solve::{
    Accuracy, Attempt, Certificate, Fallback, Inaccuracy, Solution, SolverSettings, Status,
    StopCause,
};
