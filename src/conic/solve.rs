//! Lowering to Clarabel's standard form, the solve call with its fallbacks,
//! the violation gate, and the mapping of the answer back to the user's
//! variables.
//!
//! Clarabel solves `min 1/2 x'Px + q'x  s.t.  A x + s = b, s in K`. Every
//! [`Block`] row is an affine expression `e(x) = a'x + c` that must lie in the
//! block's cone; it becomes the slack `s = e(x)`, i.e. the row `-a` of `A` and
//! the entry `c` of `b`. `A` is assembled directly in compressed-column form
//! from the rows' sorted sparse terms (one counting pass, one filling pass).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use faer::Mat;

use super::check::Violation;
use super::expr::{Affine, ComplexAffine};
use super::problem::{triu_index, Block, HermitianVar, Problem, Sense, SymmetricVar};
use crate::error::{IsacError, Result};
use crate::C64;

/// A retry tried, in order, when an answer is [`Status::Inaccurate`]
/// (see [`SolverSettings::fallbacks`]). Each fallback modifies the *base*
/// settings (not the previous fallback's).
#[derive(Clone, Debug, PartialEq)]
pub enum Fallback {
    /// The same settings with another KKT backend (`"qdldl"`, `"faer"`): a
    /// different factorisation takes a different path through the iterations.
    DirectSolveMethod(String),
    /// Clarabel's default tolerances (`1e-8`; KT ratio `1e-6`) and iterative
    /// refinement (`1e-13`, 10 steps), keeping the backend, limits and gate.
    ClarabelTolerances,
    /// The same settings with [`SolverSettings::normalize_rows`] on.
    NormalizeRows,
    /// These settings instead (their own fallbacks ignored).
    Replace(Box<SolverSettings>),
}

impl Fallback {
    /// The base settings modified by this fallback (its own fallbacks cleared).
    pub fn apply(&self, base: &SolverSettings) -> SolverSettings {
        let mut s = SolverSettings {
            fallbacks: Vec::new(),
            ..base.clone()
        };
        match self {
            Fallback::DirectSolveMethod(m) => s.direct_solve_method = m.clone(),
            Fallback::NormalizeRows => s.normalize_rows = true,
            Fallback::Replace(other) => {
                s = SolverSettings {
                    fallbacks: Vec::new(),
                    ..(**other).clone()
                }
            }
            Fallback::ClarabelTolerances => {
                let d = SolverSettings::default();
                s.tol_gap_abs = d.tol_gap_abs;
                s.tol_gap_rel = d.tol_gap_rel;
                s.tol_feas = d.tol_feas;
                s.tol_infeas_abs = d.tol_infeas_abs;
                s.tol_infeas_rel = d.tol_infeas_rel;
                s.tol_ktratio = d.tol_ktratio;
                s.iterative_refinement_reltol = d.iterative_refinement_reltol;
                s.iterative_refinement_max_iter = d.iterative_refinement_max_iter;
            }
        }
        s
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::DirectSolveMethod(m) => write!(f, "KKT backend {m}"),
            Fallback::ClarabelTolerances => write!(f, "Clarabel's default tolerances"),
            Fallback::NormalizeRows => write!(f, "row normalisation"),
            Fallback::Replace(_) => write!(f, "replacement settings"),
        }
    }
}

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
    /// Divide each scalar row (and each cone block, by one common factor) by the
    /// inf-norm of its coefficients before calling Clarabel \[false\]. Off by
    /// default (module doc: it made every system worse); useful as a
    /// [`Fallback::NormalizeRows`] on data spanning many orders of magnitude.
    /// Row scaling does not change the primal solution, and the violation gate
    /// measures the answer in the user's unscaled terms.
    pub normalize_rows: bool,
    /// The gate: largest accepted *scaled* violation of a user constraint at a
    /// returned point (measures in `src/conic/check.rs`); a solved answer, full
    /// or reduced accuracy, above it is [`Inaccuracy::ViolationGate`] \[1e-5\].
    /// Also the tolerance of the certificate checks.
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
    /// Retries, in order, while the answer is [`Status::Inaccurate`] \[none\].
    /// The first answer that is not `Inaccurate` is returned; if all are, the
    /// last one with a finite point (else the last one).
    pub fallbacks: Vec<Fallback>,
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
            normalize_rows: false,
            violation_tol: 1e-5,
            direct_solve_method: "faer".to_string(),
            max_threads: 1,
            verbose: false,
            iterative_refinement_reltol: 1e-13,
            iterative_refinement_max_iter: 10,
            fallbacks: Vec::new(),
        }
    }
}

/// Accuracy of a solver answer: Clarabel's full tolerances, or its reduced
/// ones (`AlmostSolved`, `AlmostPrimalInfeasible`, ...). A reduced answer is
/// returned as such only after the layer has checked it like a full one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accuracy {
    /// Clarabel's tolerances were met.
    Full,
    /// Clarabel's reduced-accuracy tolerances were met.
    Reduced,
}

/// Why Clarabel stopped without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// [`SolverSettings::max_iter`] reached.
    MaxIterations,
    /// [`SolverSettings::time_limit`] reached.
    MaxTime,
    /// A numerical error (e.g. a failed factorisation).
    NumericalError,
    /// No progress in the last iterations.
    InsufficientProgress,
    /// Any other stop (callback, not run).
    Other,
}

/// Which certificate was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certificate {
    /// A Farkas certificate of primal infeasibility.
    PrimalInfeasible,
    /// A direction of unboundedness (dual infeasibility).
    DualInfeasible,
}

/// Why an answer is [`Status::Inaccurate`].
#[derive(Clone, Debug, PartialEq)]
pub enum Inaccuracy {
    /// Clarabel reported (almost) solved, but a user constraint is violated
    /// beyond [`SolverSettings::violation_tol`] at the returned point.
    ViolationGate {
        /// Accuracy Clarabel claimed.
        accuracy: Accuracy,
        /// The measured violation.
        violation: Violation,
    },
    /// Clarabel stopped without a solution or certificate.
    SolverStopped(StopCause),
    /// Clarabel returned a certificate that fails its check.
    CertificateRejected {
        /// Which certificate.
        certificate: Certificate,
        /// Accuracy Clarabel claimed.
        accuracy: Accuracy,
        /// The failed measure, for humans.
        detail: String,
    },
}

impl fmt::Display for Inaccuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inaccuracy::ViolationGate {
                accuracy,
                violation,
            } => {
                let claimed = match accuracy {
                    Accuracy::Full => "Solved",
                    Accuracy::Reduced => "AlmostSolved",
                };
                write!(
                    f,
                    "clarabel reported {claimed} but constraint #{} is violated by {:.3e} \
                     (scaled; {:.3e} absolute) at the returned point",
                    violation.worst.map(|c| c.0).unwrap_or(0),
                    violation.scaled,
                    violation.absolute
                )
            }
            Inaccuracy::SolverStopped(c) => write!(f, "clarabel stopped: {c:?}"),
            Inaccuracy::CertificateRejected {
                certificate,
                accuracy,
                detail,
            } => write!(
                f,
                "clarabel reported {certificate:?} ({accuracy:?} accuracy) but the certificate \
                 fails the check ({detail})"
            ),
        }
    }
}

/// Outcome of a solve.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Solved, and every user constraint holds at the returned point to
    /// [`SolverSettings::violation_tol`] (scaled), whatever the accuracy.
    Optimal {
        /// Accuracy Clarabel reached.
        accuracy: Accuracy,
    },
    /// Primal infeasible. Clarabel's Farkas certificate `z` has been checked
    /// (`A^T z = 0`, `b^T z < 0` in the lowered data), for either accuracy.
    Infeasible {
        /// Accuracy Clarabel reached.
        accuracy: Accuracy,
    },
    /// Dual infeasible: the objective is unbounded. Clarabel's certificate (a
    /// direction `d`, returned in `values`) has been checked in the user's terms:
    /// it improves the objective and every constraint's recession cone holds.
    Unbounded,
    /// Anything else; `cause` says why.
    Inaccurate {
        /// Why.
        cause: Inaccuracy,
    },
}

impl Status {
    /// True for [`Status::Optimal`] (a point that passed the gate, full or reduced accuracy).
    pub fn is_optimal(&self) -> bool {
        matches!(self, Status::Optimal { .. })
    }

    /// True for [`Status::Infeasible`] (a checked certificate, full or reduced accuracy).
    pub fn is_infeasible(&self) -> bool {
        matches!(self, Status::Infeasible { .. })
    }

    /// True when `values` is meant as a point (not a certificate): `Optimal`
    /// or `Inaccurate` (Clarabel's last iterate; it may be non-finite after a
    /// numerical error: see [`Solution::has_finite_point`]).
    pub fn has_point(&self) -> bool {
        matches!(self, Status::Optimal { .. } | Status::Inaccurate { .. })
    }

    /// The accuracy Clarabel reached, for `Optimal` and `Infeasible`.
    pub fn accuracy(&self) -> Option<Accuracy> {
        match self {
            Status::Optimal { accuracy } | Status::Infeasible { accuracy } => Some(*accuracy),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Optimal { accuracy } => write!(f, "optimal ({accuracy:?} accuracy)"),
            Status::Infeasible { accuracy } => write!(f, "infeasible ({accuracy:?} accuracy)"),
            Status::Unbounded => write!(f, "unbounded"),
            Status::Inaccurate { cause } => write!(f, "inaccurate: {cause}"),
        }
    }
}

/// One call of Clarabel within [`Problem::solve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// The fallback that modified the settings (`None`: the settings as given).
    pub fallback: Option<Fallback>,
    /// The checked status of this attempt.
    pub status: Status,
    /// Interior-point iterations.
    pub iterations: u32,
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
    /// Interior-point iterations of the returned attempt.
    pub iterations: u32,
    /// Clarabel solve time in seconds, summed over the attempts (setup excluded).
    pub solve_seconds: f64,
    /// Wall time of lowering + setup + solve + re-evaluation, seconds (all attempts).
    pub total_seconds: f64,
    /// Wall time of the first lowering (modelling data to Clarabel's `A, b, q, K`), seconds.
    pub lower_seconds: f64,
    /// The largest violation over all user constraints at `values` (zero for
    /// a certificate; see `src/conic/check.rs`).
    pub violation: Violation,
    /// Scaled violation of every user constraint at `values`, indexed by
    /// [`ConstraintId`](super::ConstraintId).
    pub violations: Vec<f64>,
    /// Every Clarabel call, in order: the settings as given, then the fallbacks tried.
    pub attempts: Vec<Attempt>,
    /// The fallback whose answer is returned (`None`: the settings as given).
    pub fallback: Option<Fallback>,
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

    /// True when the status carries a point and every value is finite.
    pub fn has_finite_point(&self) -> bool {
        self.status.has_point() && self.values.iter().all(|v| v.is_finite())
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
fn row_factor<'a>(rows: impl IntoIterator<Item = &'a Affine>, normalize: bool) -> f64 {
    if !normalize {
        return 1.0;
    }
    let m = rows
        .into_iter()
        .fold(0.0f64, |m, r| m.max(r.coef_inf_norm()));
    if m > 0.0 && m.is_finite() {
        1.0 / m
    } else {
        1.0
    }
}

/// Rows of `A` as they are emitted: row `r` holds `terms[start[r]..start[r+1]]`
/// (sorted by column, from the sorted [`Affine`] terms).
struct Builder {
    start: Vec<usize>,
    terms: Vec<(usize, f64)>,
    b: Vec<f64>,
    cones: Vec<SupportedConeT<f64>>,
}

impl Builder {
    /// Append `s = f * e(x)`: row `-f a`, `b = f c`.
    fn row(&mut self, e: &Affine, f: f64) {
        self.terms.extend(e.terms.iter().map(|&(k, v)| (k, -f * v)));
        self.start.push(self.terms.len());
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

    /// `A` in compressed-column form: count the entries of each column, then
    /// place them walking the rows in order (so row indices increase within
    /// each column, as CSC requires). `O(nnz + n)`.
    fn csc(&self, m: usize, n: usize) -> CscMatrix<f64> {
        let mut colptr = vec![0usize; n + 1];
        for &(k, _) in &self.terms {
            colptr[k + 1] += 1;
        }
        for j in 0..n {
            colptr[j + 1] += colptr[j];
        }
        let nnz = self.terms.len();
        let mut rowval = vec![0usize; nnz];
        let mut nzval = vec![0.0; nnz];
        let mut next = colptr.clone();
        for r in 0..self.start.len() - 1 {
            for &(k, v) in &self.terms[self.start[r]..self.start[r + 1]] {
                rowval[next[k]] = r;
                nzval[next[k]] = v;
                next[k] += 1;
            }
        }
        CscMatrix::new(m, n, colptr, rowval, nzval)
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
        if let Some(e) = &self.foreign {
            return Err(IsacError::Numerical(e.clone()));
        }
        let mut bld = Builder {
            start: vec![0],
            terms: Vec::new(),
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
                            bld.row(e, row_factor([e], normalize));
                        }
                        let d = rows.len();
                        bld.cone(if matches!(blk, Block::Zero(_)) {
                            SupportedConeT::ZeroConeT(d)
                        } else {
                            SupportedConeT::NonnegativeConeT(d)
                        });
                    }
                    Block::Soc(rows) => {
                        let f = row_factor(rows, normalize);
                        for e in rows {
                            check(e, ci)?;
                            bld.row(e, f);
                        }
                        bld.cone(SupportedConeT::SecondOrderConeT(rows.len()));
                    }
                    Block::Exp(rows) => {
                        let f = row_factor(rows, normalize);
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
                        let first = bld.b.len();
                        let g = row_factor(m.iter().flatten(), normalize);
                        for j in 0..d {
                            for i in 0..=j {
                                check(&m[i][j], ci)?;
                                let f = if i == j {
                                    g
                                } else {
                                    g * std::f64::consts::SQRT_2
                                };
                                bld.row(&m[i][j], f);
                                debug_assert_eq!(bld.b.len() - 1 - first, triu_index(i, j));
                            }
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
        if bld.b.is_empty() {
            // Clarabel needs at least one row: add the trivial `0 = 0`.
            bld.row(&Affine::zero(), 1.0);
            bld.cone(SupportedConeT::ZeroConeT(1));
        }
        let m = bld.b.len();
        let a = bld.csc(m, n);
        Ok(Lowered {
            q,
            a,
            b: bld.b,
            cones: bld.cones,
        })
    }

    /// Solve with Clarabel, map back, re-evaluate every user constraint, gate
    /// the answer, and try the [`SolverSettings::fallbacks`] while it is
    /// [`Status::Inaccurate`].
    ///
    /// Errors (`IsacError::Numerical`): no variables, non-finite data,
    /// foreign variables, Clarabel rejecting the data or panicking.
    /// Solver trouble that still yields a point is reported as
    /// [`Status::Inaccurate`], never as an error or a panic.
    pub fn solve(&self, settings: &SolverSettings) -> Result<Solution> {
        single_threaded_blas();
        let start = Instant::now();
        let low = self.lower(settings.normalize_rows)?;
        let lower_seconds = start.elapsed().as_secs_f64();
        // a fallback that switches row normalisation needs its own lowering (made once)
        let mut low_other: Option<Lowered> = None;
        let mut attempts = Vec::new();
        let mut solve_seconds = 0.0;
        let mut kept: Option<Solution> = None;
        let tries = std::iter::once(None).chain(settings.fallbacks.iter().map(Some));
        for fallback in tries {
            let st = match fallback {
                None => settings.clone(),
                Some(f) => f.apply(settings),
            };
            let data = if st.normalize_rows == settings.normalize_rows {
                &low
            } else {
                if low_other.is_none() {
                    low_other = Some(self.lower(st.normalize_rows)?);
                }
                low_other.as_ref().expect("just lowered")
            };
            let mut sol = self.solve_lowered(data, &st)?;
            sol.fallback = fallback.cloned();
            solve_seconds += sol.solve_seconds;
            attempts.push(Attempt {
                fallback: sol.fallback.clone(),
                status: sol.status.clone(),
                iterations: sol.iterations,
            });
            let done = !matches!(sol.status, Status::Inaccurate { .. });
            // among inaccurate answers keep the last with a finite point
            if done || sol.has_finite_point() || kept.as_ref().is_none_or(|k| !k.has_finite_point())
            {
                kept = Some(sol);
            }
            if done {
                break;
            }
        }
        let mut sol = kept.expect("at least one attempt");
        sol.attempts = attempts;
        sol.solve_seconds = solve_seconds;
        sol.lower_seconds = lower_seconds;
        sol.total_seconds = start.elapsed().as_secs_f64();
        Ok(sol)
    }

    /// One Clarabel call on lowered data, with the checks and the gate.
    fn solve_lowered(&self, low: &Lowered, settings: &SolverSettings) -> Result<Solution> {
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
        use Accuracy::{Full, Reduced};
        let stopped = |c| Status::Inaccurate {
            cause: Inaccuracy::SolverStopped(c),
        };
        // Clarabel's claim, before our checks
        let claim = match sol.status {
            SolverStatus::Solved => Status::Optimal { accuracy: Full },
            SolverStatus::AlmostSolved => Status::Optimal { accuracy: Reduced },
            SolverStatus::PrimalInfeasible => Status::Infeasible { accuracy: Full },
            SolverStatus::AlmostPrimalInfeasible => Status::Infeasible { accuracy: Reduced },
            SolverStatus::DualInfeasible => Status::Unbounded,
            SolverStatus::AlmostDualInfeasible => Status::Unbounded,
            SolverStatus::MaxIterations => stopped(StopCause::MaxIterations),
            SolverStatus::MaxTime => stopped(StopCause::MaxTime),
            SolverStatus::NumericalError => stopped(StopCause::NumericalError),
            SolverStatus::InsufficientProgress => stopped(StopCause::InsufficientProgress),
            SolverStatus::Unsolved | SolverStatus::CallbackTerminated => stopped(StopCause::Other),
        };
        let dual_accuracy = if sol.status == SolverStatus::AlmostDualInfeasible {
            Reduced
        } else {
            Full
        };
        let (status, objective) = match claim {
            Status::Infeasible { accuracy } => {
                match farkas_check(low, &sol.z, settings.violation_tol) {
                    None => (Status::Infeasible { accuracy }, sign * f64::INFINITY),
                    Some(detail) => (
                        Status::Inaccurate {
                            cause: Inaccuracy::CertificateRejected {
                                certificate: Certificate::PrimalInfeasible,
                                accuracy,
                                detail,
                            },
                        },
                        self.objective_value(&values),
                    ),
                }
            }
            Status::Unbounded => {
                // Clarabel's x is a direction d with q'd < 0 and A d in -K; verify it
                // in the user's terms (badly scaled data once produced a bogus one).
                let (dv, slope) = self.check_unbounded_direction(&values);
                if dv.is_nan()
                    || dv > settings.violation_tol
                    || slope.is_nan()
                    || slope > -settings.violation_tol
                {
                    (
                        Status::Inaccurate {
                            cause: Inaccuracy::CertificateRejected {
                                certificate: Certificate::DualInfeasible,
                                accuracy: dual_accuracy,
                                detail: format!(
                                    "recession violation {dv:.3e}, objective slope {slope:.3e}"
                                ),
                            },
                        },
                        self.objective_value(&values),
                    )
                } else {
                    (Status::Unbounded, -sign * f64::INFINITY)
                }
            }
            other => (other, self.objective_value(&values)),
        };
        // the gate: a point is measured whatever Clarabel claimed; a certificate is not a point
        let (violation, violations) = if status.is_infeasible() || status == Status::Unbounded {
            (Violation::NONE, vec![0.0; self.constraints.len()])
        } else {
            let m = self.measure_violations(&values);
            (
                Violation::worst_of(&m),
                m.iter().map(|v| v.scaled).collect(),
            )
        };
        let status = gate(status, violation, settings.violation_tol);
        Ok(Solution {
            status,
            objective,
            values,
            iterations: sol.iterations,
            solve_seconds: sol.solve_time,
            total_seconds: 0.0,
            lower_seconds: 0.0,
            violation,
            violations,
            attempts: Vec::new(),
            fallback: None,
        })
    }
}

/// The violation gate: a solved claim, full or reduced accuracy, stays
/// [`Status::Optimal`] only if the measured scaled violation is at most `tol`.
fn gate(claim: Status, violation: Violation, tol: f64) -> Status {
    match claim {
        Status::Optimal { accuracy } if violation.scaled.is_nan() || violation.scaled > tol => {
            Status::Inaccurate {
                cause: Inaccuracy::ViolationGate {
                    accuracy,
                    violation,
                },
            }
        }
        other => other,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conic::ConstraintId;

    #[test]
    fn gate_rejects_a_reduced_accuracy_point_that_violates_a_row() {
        // x + y <= 1, x, y >= 0 at the point (0.6, 0.6): the row x + y <= 1 is short by
        // 0.2 (absolute) on terms of size 1 + 0.6 + 0.6 = 2.2, i.e. 0.2 / 2.2 scaled.
        let mut p = Problem::new();
        let x = p.nonneg_scalar();
        let y = p.nonneg_scalar();
        p.le(&x + &y, 1.0);
        let m = p.measure_violations(&[0.6, 0.6]);
        let v = Violation::worst_of(&m);
        assert_eq!(v.worst, Some(ConstraintId(2)));
        assert!((v.absolute - 0.2).abs() < 1e-12);
        assert!((v.scaled - 0.2 / 2.2).abs() < 1e-12);
        let reduced = Status::Optimal {
            accuracy: Accuracy::Reduced,
        };
        match gate(reduced.clone(), v, 1e-5) {
            Status::Inaccurate {
                cause:
                    Inaccuracy::ViolationGate {
                        accuracy,
                        violation,
                    },
            } => {
                assert_eq!(accuracy, Accuracy::Reduced);
                assert_eq!(violation, v);
            }
            other => panic!("{other:?}"),
        }
        // the same claim at a feasible point (0.5, 0.5) passes, reduced accuracy kept
        let ok = Violation::worst_of(&p.measure_violations(&[0.5, 0.5]));
        assert_eq!(ok, Violation::NONE);
        assert_eq!(gate(reduced.clone(), ok, 1e-5), reduced);
        // certificates are not points: the gate leaves them alone
        let inf = Status::Infeasible {
            accuracy: Accuracy::Reduced,
        };
        assert_eq!(gate(inf.clone(), v, 1e-5), inf);
    }
}
