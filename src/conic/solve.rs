//! Lowering to Clarabel's standard form, the solve call, and the mapping of
//! the answer back to the user's variables.
//!
//! Clarabel solves `min 1/2 x'Px + q'x  s.t.  A x + s = b, s in K`. Every
//! [`Block`] row is an affine expression `e(x) = a'x + c` that must lie in the
//! block's cone; it becomes the slack `s = e(x)`, i.e. the row `-a` of `A` and
//! the entry `c` of `b`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use faer::Mat;

use super::check::max_violation;
use super::expr::{Affine, ComplexAffine};
use super::problem::{triu_index, Block, ConstraintId, HermitianVar, Problem, Sense, SymmetricVar};
use crate::error::{IsacError, Result};
use crate::C64;

/// Solver settings. Defaults (in brackets) are Clarabel's, except the KKT
/// backend, which is `"faer"` (measured ~3x faster than QDLDL on our SDPs).
#[derive(Clone, Debug, PartialEq)]
pub struct SolverSettings {
    /// Maximum interior-point iterations \[200\].
    pub max_iter: u32,
    /// Wall-clock limit in seconds \[`f64::INFINITY`\].
    pub time_limit: f64,
    /// Absolute duality-gap tolerance \[1e-8\].
    pub tol_gap_abs: f64,
    /// Relative duality-gap tolerance \[1e-8\].
    pub tol_gap_rel: f64,
    /// Primal/dual feasibility tolerance \[1e-8\].
    pub tol_feas: f64,
    /// Absolute infeasibility-certificate tolerance \[1e-8\].
    pub tol_infeas_abs: f64,
    /// Relative infeasibility-certificate tolerance \[1e-8\].
    pub tol_infeas_rel: f64,
    /// KT ratio tolerance \[1e-6\].
    pub tol_ktratio: f64,
    /// Normalise each scalar row (and each cone block, by one common factor)
    /// by the inf-norm of its coefficients before calling Clarabel \[true\].
    pub normalize_rows: bool,
    /// Largest accepted relative violation of a user constraint at the
    /// returned point; above it an `Optimal` answer becomes `Inaccurate` \[1e-5\].
    pub violation_tol: f64,
    /// Clarabel's linear-system backend \["faer"\].
    pub direct_solve_method: String,
    /// Threads of the linear-system backend \[1\]. One thread keeps every result
    /// bit-identical whatever the machine; `isac` parallelises over instances instead.
    pub max_threads: u32,
    /// Print Clarabel's iteration log \[false\].
    pub verbose: bool,
    /// Iterative refinement of each KKT solve: relative tolerance and step cap
    /// \[1e-13, 10\] (Clarabel's). Each step is a product with the whole KKT matrix,
    /// which dominates the time of SDPs with several dense PSD blocks.
    pub iterative_refinement_reltol: f64,
    pub iterative_refinement_max_iter: u32,
}

impl Default for SolverSettings {
    fn default() -> Self {
        SolverSettings {
            max_iter: 200,
            time_limit: f64::INFINITY,
            tol_gap_abs: 1e-8,
            tol_gap_rel: 1e-8,
            tol_feas: 1e-8,
            tol_infeas_abs: 1e-8,
            tol_infeas_rel: 1e-8,
            tol_ktratio: 1e-6,
            normalize_rows: true,
            violation_tol: 1e-5,
            direct_solve_method: "faer".to_string(),
            max_threads: 1,
            verbose: false,
            iterative_refinement_reltol: 1e-13,
            iterative_refinement_max_iter: 10,
        }
    }
}

/// Outcome of a solve.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Solved, and every user constraint holds at the returned point to
    /// [`SolverSettings::violation_tol`].
    Optimal,
    /// Primal infeasible. Clarabel's Farkas certificate `z` has been checked
    /// (`A^T z = 0`, `b^T z < 0` in the lowered data).
    Infeasible,
    /// Dual infeasible: the objective is unbounded. Clarabel's certificate (a
    /// direction `d`, returned in `values`) has been checked in the user's terms:
    /// it improves the objective and every constraint's recession cone holds.
    Unbounded,
    /// Anything else; `reason` says why (Clarabel status, a "solved" point that
    /// fails re-evaluation, or an unboundedness direction that fails its check).
    Inaccurate {
        /// Human-readable reason.
        reason: String,
    },
}

impl Status {
    /// True for [`Status::Optimal`].
    pub fn is_optimal(&self) -> bool {
        matches!(self, Status::Optimal)
    }
}

/// The answer of [`Problem::solve`].
#[derive(Clone, Debug)]
pub struct Solution {
    /// Outcome.
    pub status: Status,
    /// User objective at the returned point for `Optimal`/`Inaccurate`;
    /// `+inf` (minimise) / `-inf` (maximise) when infeasible; `-inf` / `+inf` when unbounded.
    pub objective: f64,
    /// Values of all real unknowns (a certificate, not a point, when
    /// `Infeasible`/`Unbounded`).
    pub values: Vec<f64>,
    /// Interior-point iterations.
    pub iterations: u32,
    /// Clarabel solve time in seconds (setup excluded).
    pub solve_seconds: f64,
    /// Wall time of lowering + setup + solve + re-evaluation, seconds.
    pub total_seconds: f64,
    /// Largest relative violation over all user constraints at `values`.
    pub max_violation: f64,
    /// The constraint attaining `max_violation`, if any is violated.
    pub worst_constraint: Option<ConstraintId>,
    /// Relative violation of every user constraint, indexed by [`ConstraintId`].
    pub violations: Vec<f64>,
}

impl Solution {
    /// Value of a real expression.
    pub fn value(&self, e: &Affine) -> f64 {
        e.eval(&self.values)
    }

    /// Value of a complex expression.
    pub fn complex_value(&self, e: &ComplexAffine) -> C64 {
        e.eval(&self.values)
    }

    /// Value of a symmetric matrix variable.
    pub fn symmetric_value(&self, h: &SymmetricVar) -> Mat<f64> {
        let m = h.matrix();
        Mat::from_fn(h.n(), h.n(), |i, j| m[i][j].eval(&self.values))
    }

    /// Value of a Hermitian matrix variable.
    pub fn hermitian_value(&self, h: &HermitianVar) -> Mat<C64> {
        let m = h.matrix();
        Mat::from_fn(h.n(), h.n(), |i, j| m[i][j].eval(&self.values))
    }
}

/// Clarabel's data, ready for `DefaultSolver::new`.
pub(crate) struct Lowered {
    pub(crate) q: Vec<f64>,
    pub(crate) a: CscMatrix<f64>,
    pub(crate) b: Vec<f64>,
    pub(crate) cones: Vec<SupportedConeT<f64>>,
}

/// Positive scale factor for a group of rows: `1 / max_k |a_k|` over the group
/// (1 for a constant group). Positive scaling of a whole cone block keeps
/// membership (all our cones are cones); a zero/nonnegative row is its own block.
fn row_factor(rows: &[&Affine], normalize: bool) -> f64 {
    if !normalize {
        return 1.0;
    }
    let m = rows.iter().fold(0.0f64, |m, r| m.max(r.coef_inf_norm()));
    if m > 0.0 && m.is_finite() {
        1.0 / m
    } else {
        1.0
    }
}

struct Builder {
    rows_i: Vec<usize>,
    cols_j: Vec<usize>,
    vals: Vec<f64>,
    b: Vec<f64>,
    cones: Vec<SupportedConeT<f64>>,
}

impl Builder {
    /// Append `s = f * e(x)`: row `-f a`, `b = f c`.
    fn row(&mut self, e: &Affine, f: f64) {
        let r = self.b.len();
        for (k, v) in e.terms() {
            self.rows_i.push(r);
            self.cols_j.push(k);
            self.vals.push(-f * v);
        }
        self.b.push(f * e.constant_term());
    }

    fn cone(&mut self, c: SupportedConeT<f64>) {
        use SupportedConeT::*;
        match (self.cones.last_mut(), &c) {
            (Some(ZeroConeT(k)), ZeroConeT(d)) => *k += d,
            (Some(NonnegativeConeT(k)), NonnegativeConeT(d)) => *k += d,
            _ => self.cones.push(c),
        }
    }
}

/// Check Clarabel's primal-infeasibility certificate `z` in the lowered data:
/// a valid certificate has `A^T z = 0` and `b^T z < 0` (and `z in K*`, which
/// is not re-checked). Returns the reason for rejecting it, if any.
///
/// Measures: `||A^T z||_inf / (max_ij |A_ij| ||z||_inf) <= tol` and
/// `b^T z / (||b||_inf ||z||_inf) < 0` (Farkas: then `b - A x in K` has no solution,
/// since `0 <= z'(b - A x) = b'z < 0` would follow).
fn farkas_check(low: &Lowered, z: &[f64], tol: f64) -> Option<String> {
    let a = &low.a;
    if z.len() != a.m {
        return Some(format!(
            "certificate has length {}, expected {}",
            z.len(),
            a.m
        ));
    }
    let zn = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let an = a.nzval.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let bn = low.b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(zn > 0.0 && zn.is_finite()) {
        return Some(
            "clarabel reported PrimalInfeasible with a zero or non-finite certificate".into(),
        );
    }
    let mut atz = 0.0f64;
    for col in 0..a.n {
        let mut s = 0.0;
        for k in a.colptr[col]..a.colptr[col + 1] {
            s += a.nzval[k] * z[a.rowval[k]];
        }
        atz = atz.max(s.abs());
    }
    let atz_rel = atz / (an.max(f64::MIN_POSITIVE) * zn);
    let bz: f64 = low.b.iter().zip(z).map(|(b, z)| b * z).sum();
    let bz_rel = bz / (bn.max(f64::MIN_POSITIVE) * zn);
    if atz_rel.is_nan() || atz_rel > tol || bz_rel.is_nan() || bz_rel >= 0.0 {
        Some(format!(
            "clarabel reported PrimalInfeasible but the certificate fails the check \
             (|A'z| {atz_rel:.3e}, b'z {bz_rel:.3e}, relative)"
        ))
    } else {
        None
    }
}

impl Problem {
    /// Lower all blocks to Clarabel's `(q, A, b, K)`.
    pub(crate) fn lower(&self, normalize: bool) -> Result<Lowered> {
        let n = self.n_vars;
        if n == 0 {
            return Err(IsacError::Numerical("problem has no variables".into()));
        }
        let mut bld = Builder {
            rows_i: vec![],
            cols_j: vec![],
            vals: vec![],
            b: vec![],
            cones: vec![],
        };
        let check = |e: &Affine, ci: usize| -> Result<()> {
            if !e.is_finite() {
                return Err(IsacError::Numerical(format!(
                    "constraint #{ci}: non-finite coefficient"
                )));
            }
            if e.max_var().is_some_and(|k| k >= n) {
                return Err(IsacError::Numerical(format!(
                    "constraint #{ci}: uses a variable of another problem"
                )));
            }
            Ok(())
        };
        for (ci, c) in self.constraints.iter().enumerate() {
            for blk in &c.blocks {
                match blk {
                    Block::Zero(rows) | Block::Nonneg(rows) => {
                        for e in rows {
                            check(e, ci)?;
                            bld.row(e, row_factor(&[e], normalize));
                        }
                        let d = rows.len();
                        bld.cone(if matches!(blk, Block::Zero(_)) {
                            SupportedConeT::ZeroConeT(d)
                        } else {
                            SupportedConeT::NonnegativeConeT(d)
                        });
                    }
                    Block::Soc(rows) => {
                        let refs: Vec<&Affine> = rows.iter().collect();
                        let f = row_factor(&refs, normalize);
                        for e in rows {
                            check(e, ci)?;
                            bld.row(e, f);
                        }
                        bld.cone(SupportedConeT::SecondOrderConeT(rows.len()));
                    }
                    Block::Exp(rows) => {
                        let refs: Vec<&Affine> = rows.iter().collect();
                        let f = row_factor(&refs, normalize);
                        for e in rows {
                            check(e, ci)?;
                            bld.row(e, f);
                        }
                        bld.cone(SupportedConeT::ExponentialConeT());
                    }
                    Block::Psd(m) => {
                        // svec: upper triangle, column-stacked, off-diagonals * sqrt(2),
                        // matching Clarabel's PSDTriangleConeT ordering.
                        let d = m.len();
                        let mut rows = Vec::with_capacity(d * (d + 1) / 2);
                        for j in 0..d {
                            for i in 0..=j {
                                let e = if i == j {
                                    m[i][j].clone()
                                } else {
                                    m[i][j].scaled(std::f64::consts::SQRT_2)
                                };
                                debug_assert_eq!(rows.len(), triu_index(i, j));
                                rows.push(e);
                            }
                        }
                        let refs: Vec<&Affine> = rows.iter().collect();
                        let f = row_factor(&refs, normalize);
                        for e in &rows {
                            check(e, ci)?;
                            bld.row(e, f);
                        }
                        bld.cone(SupportedConeT::PSDTriangleConeT(d));
                    }
                }
            }
        }
        let mut q = vec![0.0; n];
        if let Some((sense, f)) = &self.objective {
            if !f.is_finite() {
                return Err(IsacError::Numerical(
                    "objective: non-finite coefficient".into(),
                ));
            }
            if f.max_var().is_some_and(|k| k >= n) {
                return Err(IsacError::Numerical(
                    "objective uses a variable of another problem".into(),
                ));
            }
            let s = if *sense == Sense::Maximize { -1.0 } else { 1.0 };
            for (k, v) in f.terms() {
                q[k] += s * v;
            }
        }
        let m = bld.b.len();
        if m == 0 {
            // Clarabel needs at least one row: add the trivial `0 = 0`.
            bld.b.push(0.0);
            bld.cone(SupportedConeT::ZeroConeT(1));
        }
        let m = m.max(1);
        let a = CscMatrix::new_from_triplets(m, n, bld.rows_i, bld.cols_j, bld.vals);
        Ok(Lowered {
            q,
            a,
            b: bld.b,
            cones: bld.cones,
        })
    }

    /// Solve with Clarabel, map back, and re-evaluate every user constraint.
    ///
    /// Errors (`IsacError::Numerical`): no variables, non-finite data,
    /// foreign variables, Clarabel rejecting the data or panicking.
    /// Solver trouble that still yields a point is reported as
    /// [`Status::Inaccurate`], never as an error or a panic.
    pub fn solve(&self, settings: &SolverSettings) -> Result<Solution> {
        single_threaded_blas();
        let start = Instant::now();
        let low = self.lower(settings.normalize_rows)?;
        let n = self.n_vars;
        let p = CscMatrix::<f64>::zeros((n, n));
        let cs = DefaultSettings::<f64> {
            max_iter: settings.max_iter,
            time_limit: settings.time_limit,
            verbose: settings.verbose,
            tol_gap_abs: settings.tol_gap_abs,
            tol_gap_rel: settings.tol_gap_rel,
            tol_feas: settings.tol_feas,
            tol_infeas_abs: settings.tol_infeas_abs,
            tol_infeas_rel: settings.tol_infeas_rel,
            tol_ktratio: settings.tol_ktratio,
            direct_solve_method: settings.direct_solve_method.clone(),
            max_threads: settings.max_threads,
            iterative_refinement_reltol: settings.iterative_refinement_reltol,
            iterative_refinement_max_iter: settings.iterative_refinement_max_iter,
            ..DefaultSettings::default()
        };
        let run = catch_unwind(AssertUnwindSafe(|| {
            let mut solver = DefaultSolver::new(&p, &low.q, &low.a, &low.b, &low.cones, cs)
                .map_err(|e| IsacError::Numerical(format!("clarabel setup: {e}")))?;
            solver.solve();
            Ok::<_, IsacError>(solver.solution)
        }));
        let sol = match run {
            Ok(r) => r?,
            Err(_) => {
                return Err(IsacError::Numerical("clarabel panicked".into()));
            }
        };
        let sense = self
            .objective
            .as_ref()
            .map(|(s, _)| *s)
            .unwrap_or(Sense::Minimize);
        let sign = if sense == Sense::Minimize { 1.0 } else { -1.0 };
        let values = sol.x;
        let violations = self.violations(&values);
        let (maxv, worst) = max_violation(&violations);
        let (mut status, mut objective) = match sol.status {
            SolverStatus::Solved => (Status::Optimal, self.objective_value(&values)),
            SolverStatus::PrimalInfeasible => (Status::Infeasible, sign * f64::INFINITY),
            SolverStatus::DualInfeasible => (Status::Unbounded, -sign * f64::INFINITY),
            other => (
                Status::Inaccurate {
                    reason: format!("clarabel status {other:?}"),
                },
                self.objective_value(&values),
            ),
        };
        if status == Status::Infeasible {
            if let Some(reason) = farkas_check(&low, &sol.z, settings.violation_tol) {
                status = Status::Inaccurate { reason };
                objective = self.objective_value(&values);
            }
        }
        if status == Status::Unbounded {
            // Clarabel's x is a direction d with q'd < 0 and A d in -K; verify it
            // in the user's terms (badly scaled data once produced a bogus one).
            let (dv, slope) = self.check_unbounded_direction(&values);
            if dv.is_nan()
                || dv > settings.violation_tol
                || slope.is_nan()
                || slope > -settings.violation_tol
            {
                status = Status::Inaccurate {
                    reason: format!(
                        "clarabel reported DualInfeasible but the direction fails the check \
                         (recession violation {dv:.3e}, objective slope {slope:.3e})"
                    ),
                };
                objective = self.objective_value(&values);
            }
        }
        if status == Status::Optimal && (maxv.is_nan() || maxv > settings.violation_tol) {
            let w = worst
                .map(|i| self.constraints[i].kind.name())
                .unwrap_or("?");
            status = Status::Inaccurate {
                reason: format!(
                    "clarabel reported Solved but constraint #{} ({w}) is violated by {maxv:.3e} (relative) at the returned point",
                    worst.unwrap_or(0)
                ),
            };
        }
        Ok(Solution {
            status,
            objective,
            values,
            iterations: sol.iterations,
            solve_seconds: sol.solve_time,
            total_seconds: start.elapsed().as_secs_f64(),
            max_violation: maxv,
            worst_constraint: worst.map(ConstraintId),
            violations,
        })
    }
}

extern "C" {
    /// OpenBLAS (linked by `openblas-src`): number of BLAS/LAPACK threads.
    fn openblas_set_num_threads(n: std::os::raw::c_int);
}

/// Clarabel's PSD cones call LAPACK (OpenBLAS) on matrices of a few dozen rows; OpenBLAS'
/// own thread pool only adds synchronisation there (measured: 10x the system time on the
/// multi-static SCA) and would compete with `isac`'s rayon parallelism over instances.
/// Set once, before the first solve.
fn single_threaded_blas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: a plain setter of OpenBLAS' global thread count, called once.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}
