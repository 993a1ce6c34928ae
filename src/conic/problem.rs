//! The [`Problem`] builder: variables, expression builders on matrix variables,
//! and the user-level constraints together with their conic reformulations.
//!
//! Every user constraint is stored twice:
//! * as a [`ConstraintKind`] in the user's own terms (used to re-evaluate the
//!   returned point, see [`super::check`]);
//! * as a list of [`Block`]s, the cone memberships Clarabel sees. Each
//!   reformulation is documented next to the method that builds it.

use faer::Mat;

use std::sync::atomic::{AtomicU32, Ordering};

use super::expr::{
    Affine, AffineMatrix, ComplexAffine, ComplexAffineMatrix, MIXED_PROBLEMS, NO_PROBLEM,
};
use crate::error::{IsacError, Result};
use crate::C64;

/// Index of a constraint in the order it was added (also the index into
/// [`Solution::violations`](super::Solution::violations)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConstraintId(pub usize);

/// Handle of a real symmetric PSD matrix variable `X = X^T >= 0` of size `n`.
///
/// Storage: the `n(n+1)/2` upper-triangle entries `X_ij, i <= j`, stacked by
/// columns (`(0,0), (0,1), (1,1), (0,2), ...`), i.e. local index `j(j+1)/2 + i`.
/// This is the order of Clarabel's `PSDTriangleConeT`. The handle carries the
/// id of its [`Problem`]; another problem rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymmetricVar {
    n: usize,
    base: usize,
    problem: u32,
}

/// Handle of a complex Hermitian PSD matrix variable `X = X^H >= 0` of size `n`.
///
/// Storage: `n^2` real unknowns: first the `n` real diagonal entries, then for
/// each `i < j` (column-stacked upper triangle) the pair `Re X_ij, Im X_ij`.
/// The handle carries the id of its [`Problem`]; another problem rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HermitianVar {
    n: usize,
    base: usize,
    problem: u32,
}

/// Local index of `(i, j)`, `i <= j`, in a column-stacked upper triangle.
pub(crate) fn triu_index(i: usize, j: usize) -> usize {
    j * (j + 1) / 2 + i
}

fn dim_err(what: &str, message: String) -> IsacError {
    IsacError::input(what, message)
}

impl SymmetricVar {
    /// Matrix size `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Id of the owning [`Problem`].
    pub fn problem(&self) -> u32 {
        self.problem
    }

    fn var(&self, i: usize, j: usize) -> Affine {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        Affine::var(self.base + triu_index(a, b), self.problem)
    }

    /// Entry `X_ij` (symmetric: `X_ij = X_ji`).
    pub fn entry(&self, i: usize, j: usize) -> Result<Affine> {
        if i >= self.n || j >= self.n {
            return Err(dim_err(
                "entry",
                format!("({i},{j}) outside a {0}x{0} matrix", self.n),
            ));
        }
        Ok(self.var(i, j))
    }

    /// The whole matrix as affine expressions.
    pub fn matrix(&self) -> AffineMatrix {
        (0..self.n)
            .map(|i| (0..self.n).map(|j| self.var(i, j)).collect())
            .collect()
    }

    /// `sum_ij C_ij X_ij` with `C_ij = coef(i, j)`, built directly in storage
    /// order: the unknown `X_ij` (`i < j`) gets `C_ij + C_ji`, `X_ii` gets `C_ii`.
    fn linear_form(&self, coef: impl Fn(usize, usize) -> f64) -> Affine {
        let mut terms = Vec::with_capacity(self.n * (self.n + 1) / 2);
        for j in 0..self.n {
            for i in 0..=j {
                let c = if i == j {
                    coef(i, i)
                } else {
                    coef(i, j) + coef(j, i)
                };
                if c != 0.0 {
                    terms.push((self.base + triu_index(i, j), c));
                }
            }
        }
        Affine {
            owner: if terms.is_empty() { 0 } else { self.problem },
            terms,
            constant: 0.0,
        }
    }

    /// `tr(A X) = sum_ij A_ji X_ij` for a real `n x n` matrix `A`.
    pub fn trace_with(&self, a: &Mat<f64>) -> Result<Affine> {
        check_square(a.nrows(), a.ncols(), self.n, "trace_with")?;
        Ok(self.linear_form(|i, j| a[(j, i)]))
    }

    /// `a^T X a` for a real vector `a` of length `n`.
    pub fn quad_form(&self, a: &[f64]) -> Result<Affine> {
        check_len(a.len(), self.n, "quad_form")?;
        Ok(self.linear_form(|i, j| a[i] * a[j]))
    }

    /// `tr X`.
    pub fn trace(&self) -> Affine {
        self.linear_form(|i, j| if i == j { 1.0 } else { 0.0 })
    }
}

impl HermitianVar {
    /// Matrix size `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Id of the owning [`Problem`].
    pub fn problem(&self) -> u32 {
        self.problem
    }

    /// Index of `Re X_ab` (`a < b`); `Im X_ab` follows it.
    fn pair_index(&self, a: usize, b: usize) -> usize {
        // pairs for a < b are numbered in column-stacked strict upper triangle order
        self.base + self.n + 2 * (b * (b - 1) / 2 + a)
    }

    fn entry_unchecked(&self, i: usize, j: usize) -> ComplexAffine {
        if i == j {
            return ComplexAffine::real(Affine::var(self.base + i, self.problem));
        }
        let (a, b) = if i < j { (i, j) } else { (j, i) };
        let k = self.pair_index(a, b);
        let upper = ComplexAffine {
            re: Affine::var(k, self.problem),
            im: Affine::var(k + 1, self.problem),
        };
        if i < j {
            upper
        } else {
            upper.conj()
        }
    }

    /// Entry `X_ij` (`X_ji = conj(X_ij)`).
    pub fn entry(&self, i: usize, j: usize) -> Result<ComplexAffine> {
        if i >= self.n || j >= self.n {
            return Err(dim_err(
                "entry",
                format!("({i},{j}) outside a {0}x{0} matrix", self.n),
            ));
        }
        Ok(self.entry_unchecked(i, j))
    }

    /// The whole matrix as complex affine expressions.
    pub fn matrix(&self) -> ComplexAffineMatrix {
        (0..self.n)
            .map(|i| (0..self.n).map(|j| self.entry_unchecked(i, j)).collect())
            .collect()
    }

    /// `tr(A X) = sum_ij A_ji X_ij` with `A_rc = a(r, c)`, built directly in
    /// storage order (no intermediate expressions, `O(n^2)`).
    ///
    /// Math: the diagonal contributes `A_ii X_ii`. A pair `a < b` with
    /// `X_ab = p + i q`, `X_ba = p - i q` contributes
    /// `A_ba X_ab + A_ab X_ba = p (A_ab + A_ba) + i q (A_ba - A_ab)`, so
    /// `Re: p Re(A_ab + A_ba) + q Im(A_ab - A_ba)` and
    /// `Im: p Im(A_ab + A_ba) + q Re(A_ba - A_ab)` (using `Re(i z) = -Im z`).
    fn trace_terms(&self, a: impl Fn(usize, usize) -> C64, want_im: bool) -> ComplexAffine {
        let n = self.n;
        let mut re = Vec::with_capacity(n * n);
        let mut im = Vec::with_capacity(if want_im { n * n } else { 0 });
        for i in 0..n {
            let d = a(i, i);
            re.push((self.base + i, d.re));
            if want_im {
                im.push((self.base + i, d.im));
            }
        }
        for b in 1..n {
            for r in 0..b {
                let (ab, ba) = (a(r, b), a(b, r));
                let k = self.pair_index(r, b);
                re.push((k, ab.re + ba.re));
                re.push((k + 1, ab.im - ba.im));
                if want_im {
                    im.push((k, ab.im + ba.im));
                    im.push((k + 1, ba.re - ab.re));
                }
            }
        }
        let tidy = |mut t: Vec<(usize, f64)>| {
            // already in increasing index order: only drop zeros
            t.retain(|e| e.1 != 0.0);
            Affine {
                owner: if t.is_empty() { 0 } else { self.problem },
                terms: t,
                constant: 0.0,
            }
        };
        ComplexAffine {
            re: tidy(re),
            im: tidy(im),
        }
    }

    /// `tr(A X) = sum_ij A_ji X_ij` for a general complex `n x n` matrix `A`.
    pub fn trace_with(&self, a: &Mat<C64>) -> Result<ComplexAffine> {
        check_square(a.nrows(), a.ncols(), self.n, "trace_with")?;
        Ok(self.trace_terms(|r, c| a[(r, c)], true))
    }

    /// `Re tr(A X)`; equals `tr(A X)` when `A` is Hermitian. For a dense `A`
    /// this is one term per real unknown (`n^2`), built in `O(n^2)`.
    pub fn real_trace_with(&self, a: &Mat<C64>) -> Result<Affine> {
        check_square(a.nrows(), a.ncols(), self.n, "real_trace_with")?;
        Ok(self.trace_terms(|r, c| a[(r, c)], false).re)
    }

    /// `a^H X a = sum_ij conj(a_i) X_ij a_j` (real because `X` is Hermitian):
    /// `tr(A X)` with `A = a a^H`.
    pub fn quad_form(&self, a: &[C64]) -> Result<Affine> {
        check_len(a.len(), self.n, "quad_form")?;
        Ok(self.trace_terms(|r, c| a[r] * a[c].conj(), false).re)
    }

    /// `tr X` (real).
    pub fn trace(&self) -> Affine {
        Affine {
            terms: (0..self.n).map(|i| (self.base + i, 1.0)).collect(),
            constant: 0.0,
            owner: if self.n == 0 { 0 } else { self.problem },
        }
    }

    /// The congruence `B X B^H` (`B` is `m x n`), entry `(k,l) = sum_ij B_ki X_ij conj(B_lj)`,
    /// i.e. `tr(A X)` with `A_ji = B_ki conj(B_lj)`.
    pub fn congruence(&self, b: &Mat<C64>) -> Result<ComplexAffineMatrix> {
        if b.ncols() != self.n {
            return Err(dim_err(
                "congruence",
                format!("B has {} columns, X is {}x{}", b.ncols(), self.n, self.n),
            ));
        }
        let m = b.nrows();
        let mut out = vec![vec![ComplexAffine::zero(); m]; m];
        for k in 0..m {
            for l in k..m {
                let e = self.trace_terms(|r, c| b[(k, c)] * b[(l, r)].conj(), true);
                out[l][k] = e.conj();
                out[k][l] = e;
            }
        }
        Ok(out)
    }
}

fn check_square(r: usize, c: usize, n: usize, what: &str) -> Result<()> {
    if r != n || c != n {
        return Err(dim_err(
            what,
            format!("matrix is {r}x{c}, variable is {n}x{n}"),
        ));
    }
    Ok(())
}

fn check_len(len: usize, n: usize, what: &str) -> Result<()> {
    if len != n {
        return Err(dim_err(
            what,
            format!("vector has length {len}, variable is {n}x{n}"),
        ));
    }
    Ok(())
}

/// A cone membership handed to Clarabel. Rows are affine expressions `e(x)`
/// that must lie in the cone (Clarabel form: `s = b - A x = e(x)`).
#[derive(Clone, Debug)]
pub(crate) enum Block {
    /// `e(x) = 0` row by row.
    Zero(Vec<Affine>),
    /// `e(x) >= 0` row by row.
    Nonneg(Vec<Affine>),
    /// `(t, x_1..x_k)` with `||x|| <= t`.
    Soc(Vec<Affine>),
    /// `(x, y, z)` with `y exp(x/y) <= z`.
    Exp([Affine; 3]),
    /// A real symmetric affine matrix `M(x) >= 0` (already symmetrised).
    Psd(AffineMatrix),
}

/// A user constraint in the user's own terms (what gets re-evaluated).
#[derive(Clone, Debug)]
pub(crate) enum ConstraintKind {
    /// `e = 0`.
    Eq(Affine),
    /// `e >= 0`.
    Nonneg(Affine),
    /// `||x|| <= t`.
    Soc { t: Affine, x: Vec<Affine> },
    /// `y exp(x/y) <= z`, `y > 0` (closure).
    Exp { x: Affine, y: Affine, z: Affine },
    /// `M >= 0`, real symmetric.
    LmiSym(AffineMatrix),
    /// `M >= 0`, complex Hermitian.
    LmiHerm(ComplexAffineMatrix),
    /// `log det M >= t`, real symmetric `M`.
    LogDetSym { m: AffineMatrix, t: Affine },
    /// `log det M >= t`, complex Hermitian `M`.
    LogDetHerm { m: ComplexAffineMatrix, t: Affine },
    /// `t >= 1/x`, `x > 0`.
    Inv { x: Affine, t: Affine },
    /// `t >= tr(U^{-1})`, `U > 0`.
    TraceInv { u: AffineMatrix, t: Affine },
}

impl ConstraintKind {
    /// Short name for reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ConstraintKind::Eq(_) => "eq",
            ConstraintKind::Nonneg(_) => "ineq",
            ConstraintKind::Soc { .. } => "soc",
            ConstraintKind::Exp { .. } => "exp_cone",
            ConstraintKind::LmiSym(_) => "lmi_symmetric",
            ConstraintKind::LmiHerm(_) => "lmi_hermitian",
            ConstraintKind::LogDetSym { .. } => "log_det_symmetric",
            ConstraintKind::LogDetHerm { .. } => "log_det",
            ConstraintKind::Inv { .. } => "inv_epigraph",
            ConstraintKind::TraceInv { .. } => "trace_inv_epigraph",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Constraint {
    pub(crate) kind: ConstraintKind,
    pub(crate) blocks: Vec<Block>,
}

/// Optimisation sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sense {
    /// Minimise the objective.
    Minimize,
    /// Maximise the objective.
    Maximize,
}

/// A convex conic problem under construction. See the [module docs](super).
///
/// Every problem has a unique id (a process-wide counter); its variables carry
/// it, and a constraint or objective using a variable of another problem is
/// rejected (an error from the builder methods that return `Result`, otherwise
/// from [`Problem::solve`], naming the constraint). A clone keeps the id: its
/// variables are the same unknowns.
#[derive(Clone, Debug)]
pub struct Problem {
    pub(crate) id: u32,
    pub(crate) n_vars: usize,
    pub(crate) constraints: Vec<Constraint>,
    pub(crate) objective: Option<(Sense, Affine)>,
    /// First use of a foreign variable by a builder that cannot fail.
    pub(crate) foreign: Option<String>,
}

impl Default for Problem {
    fn default() -> Self {
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        // ids 0 and u32::MAX are the "no problem" / "mixed" tags of expressions
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        assert!(id != MIXED_PROBLEMS, "more than 4e9 conic problems");
        Problem {
            id,
            n_vars: 0,
            constraints: Vec::new(),
            objective: None,
            foreign: None,
        }
    }
}

/// Tolerance (relative to the entry size) for accepting a matrix as symmetric/Hermitian.
const SYM_TOL: f64 = 1e-9;

fn affine_close(a: &Affine, b: &Affine) -> bool {
    let d = a - b;
    let scale =
        1.0 + a.coef_inf_norm().max(b.coef_inf_norm()) + a.constant.abs().max(b.constant.abs());
    d.coef_inf_norm() <= SYM_TOL * scale && d.constant.abs() <= SYM_TOL * scale
}

fn check_square_affine<T>(m: &[Vec<T>], what: &str) -> Result<usize> {
    let n = m.len();
    if let Some(r) = m.iter().position(|row| row.len() != n) {
        return Err(dim_err(
            what,
            format!("row {r} has length {}, expected {n}", m[r].len()),
        ));
    }
    Ok(n)
}

/// Validate symmetry and return `(M + M^T)/2`.
fn symmetrize(m: AffineMatrix, what: &str) -> Result<AffineMatrix> {
    let n = check_square_affine(&m, what)?;
    let mut out = m.clone();
    for i in 0..n {
        if !m[i][i].is_finite() {
            return Err(IsacError::Numerical(format!("{what}: non-finite entry")));
        }
        for j in (i + 1)..n {
            if !m[i][j].is_finite() || !m[j][i].is_finite() {
                return Err(IsacError::Numerical(format!("{what}: non-finite entry")));
            }
            if !affine_close(&m[i][j], &m[j][i]) {
                return Err(dim_err(
                    what,
                    format!("matrix is not symmetric at ({i},{j})"),
                ));
            }
            let s = (&m[i][j] + &m[j][i]) * 0.5;
            out[i][j] = s.clone();
            out[j][i] = s;
        }
    }
    Ok(out)
}

/// Validate Hermitian structure and return `(M + M^H)/2`.
fn hermitize(m: ComplexAffineMatrix, what: &str) -> Result<ComplexAffineMatrix> {
    let n = check_square_affine(&m, what)?;
    let mut out = m.clone();
    for i in 0..n {
        for j in i..n {
            if !m[i][j].is_finite() || !m[j][i].is_finite() {
                return Err(IsacError::Numerical(format!("{what}: non-finite entry")));
            }
            let cj = m[j][i].conj();
            if !affine_close(&m[i][j].re, &cj.re) || !affine_close(&m[i][j].im, &cj.im) {
                return Err(dim_err(
                    what,
                    format!("matrix is not Hermitian at ({i},{j})"),
                ));
            }
            let s = (&m[i][j] + &cj).scaled(0.5);
            out[j][i] = s.conj();
            out[i][j] = s;
        }
    }
    Ok(out)
}

/// Real embedding of a Hermitian matrix `H = R + i S`:
/// `E(H) = [[R, -S], [S, R]]` (size `2n`).
///
/// `E(H)` is symmetric (because `R = R^T`, `S = -S^T`), `H >= 0 <=> E(H) >= 0`
/// (the eigenvalues of `E(H)` are those of `H`, each twice), and
/// `det E(H) = (det H)^2`.
pub(crate) fn real_embedding(h: &ComplexAffineMatrix) -> AffineMatrix {
    let n = h.len();
    let mut e = vec![vec![Affine::zero(); 2 * n]; 2 * n];
    for i in 0..n {
        for j in 0..n {
            let r = &h[i][j].re;
            let s = &h[i][j].im;
            e[i][j] = r.clone();
            e[n + i][n + j] = r.clone();
            e[i][n + j] = s.scaled(-1.0);
            e[n + i][j] = s.clone();
        }
    }
    e
}

impl ConstraintKind {
    /// Owner tags of every expression of the constraint.
    fn owners(&self) -> Vec<u32> {
        use ConstraintKind as K;
        let sym = |m: &AffineMatrix| m.iter().flatten().map(|e| e.owner).collect::<Vec<_>>();
        let herm = |m: &ComplexAffineMatrix| {
            m.iter()
                .flatten()
                .map(ComplexAffine::owner)
                .collect::<Vec<_>>()
        };
        match self {
            K::Eq(e) | K::Nonneg(e) => vec![e.owner],
            K::Soc { t, x } => std::iter::once(t.owner)
                .chain(x.iter().map(|e| e.owner))
                .collect(),
            K::Exp { x, y, z } => vec![x.owner, y.owner, z.owner],
            K::LmiSym(m) => sym(m),
            K::LmiHerm(m) => herm(m),
            K::LogDetSym { m, t } | K::TraceInv { u: m, t } => {
                let mut o = sym(m);
                o.push(t.owner);
                o
            }
            K::LogDetHerm { m, t } => {
                let mut o = herm(m);
                o.push(t.owner);
                o
            }
            K::Inv { x, t } => vec![x.owner, t.owner],
        }
    }
}

impl Problem {
    /// An empty problem with a fresh id.
    pub fn new() -> Self {
        Self::default()
    }

    /// The problem's unique id (carried by its variables).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `Err` naming `what` when an expression tag is not this problem's.
    fn check_owner(&self, owner: u32, what: &str) -> Result<()> {
        if owner == NO_PROBLEM || owner == self.id {
            Ok(())
        } else if owner == MIXED_PROBLEMS {
            Err(IsacError::input(
                what,
                format!(
                    "an expression mixes variables of two problems (this is problem #{})",
                    self.id
                ),
            ))
        } else {
            Err(IsacError::input(
                what,
                format!(
                    "uses a variable of problem #{owner}, not of this problem #{}",
                    self.id
                ),
            ))
        }
    }

    fn check_sym(&self, m: &AffineMatrix, what: &str) -> Result<()> {
        m.iter()
            .flatten()
            .try_for_each(|e| self.check_owner(e.owner, what))
    }

    fn check_herm(&self, m: &ComplexAffineMatrix, what: &str) -> Result<()> {
        m.iter()
            .flatten()
            .try_for_each(|e| self.check_owner(e.owner(), what))
    }

    fn check_kind(&self, kind: &ConstraintKind, what: &str) -> Result<()> {
        kind.owners()
            .into_iter()
            .try_for_each(|o| self.check_owner(o, what))
    }

    /// Number of real unknowns so far.
    pub fn num_vars(&self) -> usize {
        self.n_vars
    }

    /// Number of user constraints so far.
    pub fn num_constraints(&self) -> usize {
        self.constraints.len()
    }

    fn alloc(&mut self, k: usize) -> usize {
        let base = self.n_vars;
        self.n_vars += k;
        base
    }

    fn push(&mut self, kind: ConstraintKind, blocks: Vec<Block>) -> ConstraintId {
        let id = ConstraintId(self.constraints.len());
        if self.foreign.is_none() {
            if let Err(e) =
                self.check_kind(&kind, &format!("constraint #{} ({})", id.0, kind.name()))
            {
                self.foreign = Some(e.to_string());
            }
        }
        self.constraints.push(Constraint { kind, blocks });
        id
    }

    /// A free real scalar.
    pub fn scalar(&mut self) -> Affine {
        let i = self.alloc(1);
        Affine::var(i, self.id)
    }

    /// A real scalar constrained `>= 0`.
    pub fn nonneg_scalar(&mut self) -> Affine {
        let x = self.scalar();
        self.push(
            ConstraintKind::Nonneg(x.clone()),
            vec![Block::Nonneg(vec![x.clone()])],
        );
        x
    }

    /// A free real vector of length `n`.
    pub fn vector(&mut self, n: usize) -> Vec<Affine> {
        let base = self.alloc(n);
        (0..n).map(|k| Affine::var(base + k, self.id)).collect()
    }

    /// A real symmetric PSD matrix variable.
    ///
    /// Math: its `n(n+1)/2` unknowns are exactly the (unscaled) upper triangle,
    /// and the PSD constraint is the cone block `svec(X) in PSDTriangle(n)`.
    pub fn psd_symmetric(&mut self, n: usize) -> SymmetricVar {
        let base = self.alloc(n * (n + 1) / 2);
        let h = SymmetricVar {
            n,
            base,
            problem: self.id,
        };
        let m = h.matrix();
        if n > 0 {
            self.push(ConstraintKind::LmiSym(m.clone()), vec![Block::Psd(m)]);
        }
        h
    }

    /// A complex Hermitian PSD matrix variable.
    ///
    /// Math: `X = R + i S` with `n^2` real unknowns; `X >= 0` is imposed as the
    /// real LMI `E(X) = [[R, -S], [S, R]] >= 0` of size `2n` (the real embedding; `det E(X) = (det X)^2`).
    pub fn psd_hermitian(&mut self, n: usize) -> HermitianVar {
        let base = self.alloc(n * n);
        let h = HermitianVar {
            n,
            base,
            problem: self.id,
        };
        let m = h.matrix();
        if n > 0 {
            let e = real_embedding(&m);
            self.push(ConstraintKind::LmiHerm(m), vec![Block::Psd(e)]);
        }
        h
    }

    /// `lhs == rhs`.
    pub fn eq(&mut self, lhs: impl Into<Affine>, rhs: impl Into<Affine>) -> ConstraintId {
        let e = lhs.into() - rhs.into();
        self.push(ConstraintKind::Eq(e.clone()), vec![Block::Zero(vec![e])])
    }

    /// `lhs <= rhs`, stored as `rhs - lhs >= 0`.
    pub fn le(&mut self, lhs: impl Into<Affine>, rhs: impl Into<Affine>) -> ConstraintId {
        let e = rhs.into() - lhs.into();
        self.push(
            ConstraintKind::Nonneg(e.clone()),
            vec![Block::Nonneg(vec![e])],
        )
    }

    /// `lhs >= rhs`, stored as `lhs - rhs >= 0`.
    pub fn ge(&mut self, lhs: impl Into<Affine>, rhs: impl Into<Affine>) -> ConstraintId {
        self.le(rhs, lhs)
    }

    /// Second-order cone `||x||_2 <= t`: the block `(t, x_1, .., x_k)` in `SOC(k+1)`.
    pub fn soc(&mut self, t: impl Into<Affine>, x: &[Affine]) -> ConstraintId {
        let t = t.into();
        let mut rows = vec![t.clone()];
        rows.extend(x.iter().cloned());
        self.push(
            ConstraintKind::Soc { t, x: x.to_vec() },
            vec![Block::Soc(rows)],
        )
    }

    /// Exponential cone `y exp(x/y) <= z`, `y > 0` (closure: `y = 0, x <= 0, z >= 0`).
    /// For example `t <= log(u)` is `exp_cone(t, 1, u)`.
    pub fn exp_cone(
        &mut self,
        x: impl Into<Affine>,
        y: impl Into<Affine>,
        z: impl Into<Affine>,
    ) -> ConstraintId {
        let (x, y, z) = (x.into(), y.into(), z.into());
        self.push(
            ConstraintKind::Exp {
                x: x.clone(),
                y: y.clone(),
                z: z.clone(),
            },
            vec![Block::Exp([x, y, z])],
        )
    }

    /// Real symmetric LMI `M(x) >= 0`. `M` must be square and symmetric
    /// (to 1e-9 relative); it is symmetrised as `(M + M^T)/2`.
    ///
    /// Math: the upper triangle of `M`, off-diagonals times `sqrt 2`, column-stacked,
    /// is one `PSDTriangle(n)` block (done at compile time).
    pub fn lmi_symmetric(&mut self, m: AffineMatrix) -> Result<ConstraintId> {
        let m = symmetrize(m, "lmi_symmetric")?;
        self.check_sym(&m, "lmi_symmetric")?;
        let blocks = if m.is_empty() {
            vec![]
        } else {
            vec![Block::Psd(m.clone())]
        };
        Ok(self.push(ConstraintKind::LmiSym(m), blocks))
    }

    /// Complex Hermitian LMI `M(x) >= 0`, imposed as `E(M) >= 0` (size `2n`).
    pub fn lmi_hermitian(&mut self, m: ComplexAffineMatrix) -> Result<ConstraintId> {
        let m = hermitize(m, "lmi_hermitian")?;
        self.check_herm(&m, "lmi_hermitian")?;
        let blocks = if m.is_empty() {
            vec![]
        } else {
            vec![Block::Psd(real_embedding(&m))]
        };
        Ok(self.push(ConstraintKind::LmiHerm(m), blocks))
    }

    /// `log det M >= t` (natural log), `M` complex Hermitian `n x n`.
    ///
    /// Math (Ben-Tal & Nemirovski, Lectures on Modern Convex Optimization, 4.2):
    /// with a new complex lower-triangular `Z` having a real diagonal,
    ///
    /// ```text
    ///   [[ M,   Z      ],
    ///    [ Z^H, diag(Z)]] >= 0,      u_i <= log Z_ii  (exp cone (u_i, 1, Z_ii)),
    ///   sum_i u_i >= t.
    /// ```
    ///
    /// Soundness: by the Schur complement `M >= Z D^{-1} Z^H` with `D = diag(Z)`,
    /// so `det M >= |det Z|^2 / det D = prod Z_ii`. Tightness: with the Cholesky
    /// factor `M = L L^H`, `Z = L diag(L_ii)` gives `Z D^{-1} Z^H = M` and
    /// `prod Z_ii = det M`. The block LMI is imposed through its real embedding
    /// (size `4n`).
    pub fn log_det_ge(
        &mut self,
        m: ComplexAffineMatrix,
        t: impl Into<Affine>,
    ) -> Result<ConstraintId> {
        let t = t.into();
        let m = hermitize(m, "log_det_ge")?;
        self.check_owner(t.owner, "log_det_ge")?;
        self.check_herm(&m, "log_det_ge")?;
        let n = m.len();
        if n == 0 {
            // det of the empty matrix is 1: constraint is 0 >= t.
            let e = t.scaled(-1.0);
            return Ok(self.push(
                ConstraintKind::LogDetHerm { m, t },
                vec![Block::Nonneg(vec![e])],
            ));
        }
        if n <= 2 {
            return Ok(self.log_det_ge_small(m, t));
        }
        // Z: diagonal reals then (re, im) for each i > j.
        let zd = self.vector(n);
        let mut z = vec![vec![ComplexAffine::zero(); n]; n];
        for i in 0..n {
            z[i][i] = ComplexAffine::real(zd[i].clone());
            for j in 0..i {
                let pair = self.vector(2);
                z[i][j] = ComplexAffine {
                    re: pair[0].clone(),
                    im: pair[1].clone(),
                };
            }
        }
        let mut k = vec![vec![ComplexAffine::zero(); 2 * n]; 2 * n];
        for i in 0..n {
            for j in 0..n {
                k[i][j] = m[i][j].clone();
                k[i][n + j] = z[i][j].clone();
                k[n + j][i] = z[i][j].conj();
            }
            k[n + i][n + i] = z[i][i].clone();
        }
        let u = self.vector(n);
        let mut blocks = vec![Block::Psd(real_embedding(&k))];
        for i in 0..n {
            blocks.push(Block::Exp([
                u[i].clone(),
                Affine::constant(1.0),
                zd[i].clone(),
            ]));
        }
        blocks.push(Block::Nonneg(vec![Affine::sum(&u) - &t]));
        Ok(self.push(ConstraintKind::LogDetHerm { m, t }, blocks))
    }

    /// [`Problem::log_det_ge`] for `n = 1, 2` without the `4n` LMI (the rate matrices of
    /// two-antenna receivers are 2x2).
    ///
    /// Math: `n = 1`: `u <= log m11` (exp cone), `u >= t`. `n = 2`: a new `w` with
    /// `m11 m22 >= |m12|^2 + w^2`, `m11 + m22 >= 0`, written as the SOC
    /// `||(2 Re m12, 2 Im m12, 2 w, m11 - m22)|| <= m11 + m22`
    /// (`(m11 + m22)^2 - (m11 - m22)^2 = 4 m11 m22`), then `u <= log w`, `2u >= t`.
    /// Soundness: the SOC gives `m11, m22 >= 0` and `det M >= w^2`, so `M >= 0` and
    /// `log det M >= 2 log w >= 2u >= t`. Tightness: `w = sqrt(det M)`.
    fn log_det_ge_small(&mut self, m: ComplexAffineMatrix, t: Affine) -> ConstraintId {
        let n = m.len();
        let u = self.scalar();
        let mut blocks = Vec::new();
        if n == 1 {
            blocks.push(Block::Exp([
                u.clone(),
                Affine::constant(1.0),
                m[0][0].re.clone(),
            ]));
            blocks.push(Block::Nonneg(vec![&u - &t]));
        } else {
            let w = self.scalar();
            let (m11, m22, m12) = (&m[0][0].re, &m[1][1].re, &m[0][1]);
            // rows that vanish (e.g. m11 - m22 for a rank-one channel) are left out
            // (to round-off: 1e-13 of the trace row's size), since a row of round-off
            // coefficients is blown up by Clarabel's equilibration
            let tr = m11 + m22;
            let size = tr.coef_inf_norm().max(tr.constant_term().abs());
            let mut rows = vec![tr, w.scaled(2.0)];
            for e in [m12.re.scaled(2.0), m12.im.scaled(2.0), m11 - m22] {
                if e.coef_inf_norm().max(e.constant_term().abs()) > 1e-13 * size {
                    rows.push(e);
                }
            }
            blocks.push(Block::Soc(rows));
            blocks.push(Block::Exp([u.clone(), Affine::constant(1.0), w]));
            blocks.push(Block::Nonneg(vec![u.scaled(2.0) - &t]));
        }
        self.push(ConstraintKind::LogDetHerm { m, t }, blocks)
    }

    /// `log det M >= t` for a real symmetric `M`: same construction as
    /// [`Problem::log_det_ge`] with a real lower-triangular `Z`
    /// (`[[M, Z],[Z^T, diag Z]] >= 0`, size `2n`).
    pub fn log_det_ge_symmetric(
        &mut self,
        m: AffineMatrix,
        t: impl Into<Affine>,
    ) -> Result<ConstraintId> {
        let t = t.into();
        let m = symmetrize(m, "log_det_ge_symmetric")?;
        self.check_owner(t.owner, "log_det_ge_symmetric")?;
        self.check_sym(&m, "log_det_ge_symmetric")?;
        let n = m.len();
        if n == 0 {
            let e = t.scaled(-1.0);
            return Ok(self.push(
                ConstraintKind::LogDetSym { m, t },
                vec![Block::Nonneg(vec![e])],
            ));
        }
        let mut z = vec![vec![Affine::zero(); n]; n];
        for (i, row) in z.iter_mut().enumerate() {
            for zij in row.iter_mut().take(i + 1) {
                *zij = self.scalar();
            }
        }
        let mut k = vec![vec![Affine::zero(); 2 * n]; 2 * n];
        for i in 0..n {
            for j in 0..n {
                k[i][j] = m[i][j].clone();
                k[i][n + j] = z[i][j].clone();
                k[n + j][i] = z[i][j].clone();
            }
            k[n + i][n + i] = z[i][i].clone();
        }
        let u = self.vector(n);
        let mut blocks = vec![Block::Psd(k)];
        for i in 0..n {
            blocks.push(Block::Exp([
                u[i].clone(),
                Affine::constant(1.0),
                z[i][i].clone(),
            ]));
        }
        blocks.push(Block::Nonneg(vec![Affine::sum(&u) - &t]));
        Ok(self.push(ConstraintKind::LogDetSym { m, t }, blocks))
    }

    /// `t >= 1/x`, `x > 0`.
    ///
    /// Math: `[[x, 1],[1, t]] >= 0` is the rotated cone `x t >= 1, x, t >= 0`,
    /// written as the SOC `||(2, x - t)|| <= x + t`:
    /// `4 + (x-t)^2 <= (x+t)^2 <=> x t >= 1`, and `x + t >= 0` with `x t >= 1`
    /// forces `x, t > 0`.
    pub fn inv_epigraph(&mut self, x: impl Into<Affine>, t: impl Into<Affine>) -> ConstraintId {
        let (x, t) = (x.into(), t.into());
        let rows = vec![&x + &t, Affine::constant(2.0), &x - &t];
        self.push(ConstraintKind::Inv { x, t }, vec![Block::Soc(rows)])
    }

    /// `t >= tr(U^{-1})`, `U > 0` real symmetric `n x n`.
    ///
    /// Math: with a new symmetric `V`, `[[U, I],[I, V]] >= 0` and `t >= tr V`.
    /// For `U > 0` the Schur complement gives `V >= U^{-1}`, so
    /// `t >= tr V >= tr U^{-1}`, with equality at `V = U^{-1}`.
    /// (The LMI forces `U >= 0`; a singular `U` cannot satisfy it since `I`
    /// would have to lie in the range of `U`.)
    pub fn trace_inv_epigraph(
        &mut self,
        u: AffineMatrix,
        t: impl Into<Affine>,
    ) -> Result<ConstraintId> {
        let t = t.into();
        let u = symmetrize(u, "trace_inv_epigraph")?;
        self.check_owner(t.owner, "trace_inv_epigraph")?;
        self.check_sym(&u, "trace_inv_epigraph")?;
        let n = u.len();
        if n == 0 {
            return Ok(self.push(
                ConstraintKind::TraceInv { u, t: t.clone() },
                vec![Block::Nonneg(vec![t])],
            ));
        }
        let base = self.alloc(n * (n + 1) / 2);
        let v = SymmetricVar {
            n,
            base,
            problem: self.id,
        }
        .matrix();
        let mut k = vec![vec![Affine::zero(); 2 * n]; 2 * n];
        for i in 0..n {
            for j in 0..n {
                k[i][j] = u[i][j].clone();
                k[n + i][n + j] = v[i][j].clone();
            }
            k[i][n + i] = Affine::constant(1.0);
            k[n + i][i] = Affine::constant(1.0);
        }
        let trv = Affine::sum((0..n).map(|i| &v[i][i]));
        let blocks = vec![Block::Psd(k), Block::Nonneg(vec![&t - &trv])];
        Ok(self.push(ConstraintKind::TraceInv { u, t }, blocks))
    }

    /// The constraint `id`, or an input error naming `what`.
    fn existing(&self, id: ConstraintId, what: &str) -> Result<&Constraint> {
        self.constraints.get(id.0).ok_or_else(|| {
            dim_err(
                what,
                format!(
                    "constraint #{} does not exist ({} constraints)",
                    id.0,
                    self.constraints.len()
                ),
            )
        })
    }

    /// Replace a scalar constraint (made by `eq`, `le`, `ge`) by a new one of the
    /// same kind: only its row changes, the rest of the built program is kept
    /// (re-use across iterations where only data changes: an SCA's linearised rows).
    fn replace_scalar(&mut self, id: ConstraintId, e: Affine, eq: bool, what: &str) -> Result<()> {
        let c = self.existing(id, what)?;
        let ok = match &c.kind {
            ConstraintKind::Eq(_) => eq,
            ConstraintKind::Nonneg(_) => !eq,
            _ => false,
        };
        if !ok {
            return Err(dim_err(
                what,
                format!(
                    "constraint #{} is {}, not {}",
                    id.0,
                    c.kind.name(),
                    if eq { "eq" } else { "ineq" }
                ),
            ));
        }
        self.check_owner(e.owner, what)?;
        let (kind, blocks) = if eq {
            (ConstraintKind::Eq(e.clone()), vec![Block::Zero(vec![e])])
        } else {
            (
                ConstraintKind::Nonneg(e.clone()),
                vec![Block::Nonneg(vec![e])],
            )
        };
        self.constraints[id.0] = Constraint { kind, blocks };
        Ok(())
    }

    /// Replace the equality `id` by `lhs == rhs` (see [`Problem::replace_le`]).
    pub fn replace_eq(
        &mut self,
        id: ConstraintId,
        lhs: impl Into<Affine>,
        rhs: impl Into<Affine>,
    ) -> Result<()> {
        self.replace_scalar(id, lhs.into() - rhs.into(), true, "replace_eq")
    }

    /// Replace the inequality `id` (made by `le`, `ge` or `nonneg_scalar`) by
    /// `lhs <= rhs`, keeping every other constraint, variable and the objective:
    /// the updated program is the one a fresh build with the new row would give.
    pub fn replace_le(
        &mut self,
        id: ConstraintId,
        lhs: impl Into<Affine>,
        rhs: impl Into<Affine>,
    ) -> Result<()> {
        self.replace_scalar(id, rhs.into() - lhs.into(), false, "replace_le")
    }

    /// Replace the inequality `id` by `lhs >= rhs` (see [`Problem::replace_le`]).
    pub fn replace_ge(
        &mut self,
        id: ConstraintId,
        lhs: impl Into<Affine>,
        rhs: impl Into<Affine>,
    ) -> Result<()> {
        self.replace_scalar(id, lhs.into() - rhs.into(), false, "replace_ge")
    }

    /// Replace the real LMI `id` (made by [`Problem::lmi_symmetric`]) by
    /// `M >= 0` of the same size, keeping the rest of the program.
    pub fn replace_lmi_symmetric(&mut self, id: ConstraintId, m: AffineMatrix) -> Result<()> {
        let what = "replace_lmi_symmetric";
        let c = self.existing(id, what)?;
        let old_n = match &c.kind {
            ConstraintKind::LmiSym(old) => old.len(),
            other => {
                return Err(dim_err(
                    what,
                    format!(
                        "constraint #{} is {}, not lmi_symmetric",
                        id.0,
                        other.name()
                    ),
                ))
            }
        };
        let m = symmetrize(m, what)?;
        if m.len() != old_n {
            return Err(dim_err(
                what,
                format!("matrix is {0}x{0}, the LMI is {old_n}x{old_n}", m.len()),
            ));
        }
        self.check_sym(&m, what)?;
        let blocks = if m.is_empty() {
            vec![]
        } else {
            vec![Block::Psd(m.clone())]
        };
        self.constraints[id.0] = Constraint {
            kind: ConstraintKind::LmiSym(m),
            blocks,
        };
        Ok(())
    }

    /// A new `t >= 0` with `||x||^2 <= c t` (`c > 0`), as the rotated cone
    /// `||(2 x, t - c)|| <= t + c`: the epigraph of a convex quadratic.
    pub fn squared_norm_epigraph(&mut self, x: &[Affine], c: f64) -> Affine {
        let t = self.nonneg_scalar();
        let mut cone: Vec<Affine> = x.iter().map(|v| v.scaled(2.0)).collect();
        let mut tm = t.clone();
        tm.add_scaled(1.0, &Affine::constant(-c));
        cone.push(tm);
        let mut tp = t.clone();
        tp.add_scaled(1.0, &Affine::constant(c));
        self.soc(tp, &cone);
        t
    }

    /// Minimise `f`.
    pub fn minimize(&mut self, f: impl Into<Affine>) {
        self.set_objective(Sense::Minimize, f.into());
    }

    fn set_objective(&mut self, sense: Sense, f: Affine) {
        if self.foreign.is_none() {
            if let Err(e) = self.check_owner(f.owner, "objective") {
                self.foreign = Some(e.to_string());
            }
        }
        self.objective = Some((sense, f));
    }

    /// Maximise `f`.
    pub fn maximize(&mut self, f: impl Into<Affine>) {
        self.set_objective(Sense::Maximize, f.into());
    }
}
