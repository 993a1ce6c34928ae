//! Affine expressions over the real unknowns of a [`Problem`](super::Problem).
//!
//! Every unknown of the conic layer is real. A complex quantity is a pair of
//! real affine expressions ([`ComplexAffine`]); a Hermitian matrix variable is
//! stored as its `n^2` real parameters (see [`HermitianVar`](super::HermitianVar)).
//!
//! An [`Affine`] is `c + sum_k a_k x_k`, kept sparse as a vector of
//! `(k, a_k)` pairs sorted by `k` with no repeated index and no zero
//! coefficient (so evaluation and lowering are deterministic, a sum of two
//! expressions is one merge, and a long sum is one sort). It also records
//! which [`Problem`](super::Problem) its variables belong to (see
//! [`Affine::problem`]); combining variables of two problems is not an error
//! at once (operators cannot fail) but marks the expression as mixed, and the
//! problem rejects it when it is used in a constraint or objective.

use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use crate::C64;

/// Owner tag of an expression without variables.
pub(crate) const NO_PROBLEM: u32 = 0;
/// Owner tag of an expression mixing variables of two problems.
pub(crate) const MIXED_PROBLEMS: u32 = u32::MAX;

/// Owner of `a op b` from the owners of `a` and `b`.
pub(crate) fn join_owner(a: u32, b: u32) -> u32 {
    if a == NO_PROBLEM || a == b {
        b
    } else if b == NO_PROBLEM {
        a
    } else {
        MIXED_PROBLEMS
    }
}

/// A real affine expression `c + sum_k a_k x_k` in the problem's unknowns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Affine {
    /// `(k, a_k)`, strictly increasing `k`, every `a_k != 0`.
    pub(crate) terms: Vec<(usize, f64)>,
    pub(crate) constant: f64,
    /// Id of the problem owning the variables ([`NO_PROBLEM`] for a constant,
    /// [`MIXED_PROBLEMS`] when variables of two problems were combined).
    pub(crate) owner: u32,
}

/// A dense matrix of real affine expressions, row-major (`m[i][j]`).
pub type AffineMatrix = Vec<Vec<Affine>>;
/// A dense matrix of complex affine expressions, row-major (`m[i][j]`).
pub type ComplexAffineMatrix = Vec<Vec<ComplexAffine>>;

impl Affine {
    /// The zero expression.
    pub fn zero() -> Self {
        Self::default()
    }

    /// The constant expression `c`.
    pub fn constant(c: f64) -> Self {
        Affine {
            terms: Vec::new(),
            constant: c,
            owner: NO_PROBLEM,
        }
    }

    /// The expression `1 * x_index` of problem `owner` (crate-internal: users get
    /// variables from the problem).
    pub(crate) fn var(index: usize, owner: u32) -> Self {
        Affine {
            terms: vec![(index, 1.0)],
            constant: 0.0,
            owner,
        }
    }

    /// `c + sum a_k x_k` from `(k, a_k)` pairs in any order, repeated indices
    /// summed, zero coefficients dropped (one sort: `O(K log K)`).
    pub(crate) fn from_terms(mut terms: Vec<(usize, f64)>, constant: f64, owner: u32) -> Self {
        terms.sort_unstable_by_key(|t| t.0);
        let mut out: Vec<(usize, f64)> = Vec::with_capacity(terms.len());
        for (k, v) in terms {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 += v,
                _ => out.push((k, v)),
            }
        }
        out.retain(|t| t.1 != 0.0);
        let owner = if out.is_empty() { NO_PROBLEM } else { owner };
        Affine {
            terms: out,
            constant,
            owner,
        }
    }

    /// Constant part `c`.
    pub fn constant_term(&self) -> f64 {
        self.constant
    }

    /// The (variable index, coefficient) pairs, in increasing index order.
    pub fn terms(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.terms.iter().copied()
    }

    /// Number of variable terms.
    pub fn num_terms(&self) -> usize {
        self.terms.len()
    }

    /// Id of the problem whose variables the expression uses (`None` for a
    /// constant). Combining variables of two problems gives `Some(u32::MAX)`,
    /// which no problem accepts.
    pub fn problem(&self) -> Option<u32> {
        (self.owner != NO_PROBLEM).then_some(self.owner)
    }

    /// True when the expression has no variable terms.
    pub fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }

    /// `self += alpha * other`, dropping coefficients that cancel exactly
    /// (one merge of the two sorted term lists).
    pub fn add_scaled(&mut self, alpha: f64, other: &Affine) {
        if alpha == 0.0 {
            return;
        }
        self.constant += alpha * other.constant;
        if other.terms.is_empty() {
            return;
        }
        self.owner = join_owner(self.owner, other.owner);
        // fast path: appending past the last index
        if self.terms.last().is_none_or(|l| l.0 < other.terms[0].0) {
            self.terms
                .extend(other.terms.iter().map(|&(k, v)| (k, alpha * v)));
            self.terms.retain(|t| t.1 != 0.0);
            return;
        }
        let a = std::mem::take(&mut self.terms);
        let b = &other.terms;
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let next = if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
                i += 1;
                a[i - 1]
            } else if i >= a.len() || b[j].0 < a[i].0 {
                j += 1;
                (b[j - 1].0, alpha * b[j - 1].1)
            } else {
                i += 1;
                j += 1;
                (a[i - 1].0, a[i - 1].1 + alpha * b[j - 1].1)
            };
            if next.1 != 0.0 {
                out.push(next);
            }
        }
        self.terms = out;
    }

    /// `alpha * self`.
    pub fn scaled(&self, alpha: f64) -> Affine {
        if alpha == 0.0 {
            return Affine::zero();
        }
        Affine {
            terms: self.terms.iter().map(|&(k, v)| (k, alpha * v)).collect(),
            constant: alpha * self.constant,
            owner: self.owner,
        }
    }

    /// Value at the point `x`; `NaN` if a variable index is outside `x`.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let mut s = self.constant;
        for &(k, v) in &self.terms {
            match x.get(k) {
                Some(xk) => s += v * xk,
                None => return f64::NAN,
            }
        }
        s
    }

    /// Size of the quantities being summed at `x`: `|c| + sum_k |a_k x_k|`.
    /// The scale of a residual in the violation measures (`check.rs`).
    pub fn magnitude(&self, x: &[f64]) -> f64 {
        let mut s = self.constant.abs();
        for &(k, v) in &self.terms {
            s += (v * x.get(k).copied().unwrap_or(f64::NAN)).abs();
        }
        s
    }

    /// `max_k |a_k|` (0 for a constant).
    pub fn coef_inf_norm(&self) -> f64 {
        self.terms.iter().fold(0.0, |m, t| m.max(t.1.abs()))
    }

    /// Largest variable index used, if any.
    pub(crate) fn max_var(&self) -> Option<usize> {
        self.terms.last().map(|t| t.0)
    }

    /// True when constant and coefficients are all finite.
    pub(crate) fn is_finite(&self) -> bool {
        self.constant.is_finite() && self.terms.iter().all(|t| t.1.is_finite())
    }

    /// Sum of expressions (all terms gathered, then one sort).
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a Affine>) -> Affine {
        let mut terms = Vec::new();
        let mut constant = 0.0;
        let mut owner = NO_PROBLEM;
        for a in items {
            terms.extend_from_slice(&a.terms);
            constant += a.constant;
            if !a.terms.is_empty() {
                owner = join_owner(owner, a.owner);
            }
        }
        Affine::from_terms(terms, constant, owner)
    }
}

impl From<f64> for Affine {
    fn from(c: f64) -> Self {
        Affine::constant(c)
    }
}

impl From<&Affine> for Affine {
    fn from(a: &Affine) -> Self {
        a.clone()
    }
}

impl AddAssign<&Affine> for Affine {
    fn add_assign(&mut self, rhs: &Affine) {
        self.add_scaled(1.0, rhs);
    }
}
impl AddAssign<Affine> for Affine {
    fn add_assign(&mut self, rhs: Affine) {
        self.add_scaled(1.0, &rhs);
    }
}
impl SubAssign<&Affine> for Affine {
    fn sub_assign(&mut self, rhs: &Affine) {
        self.add_scaled(-1.0, rhs);
    }
}
impl SubAssign<Affine> for Affine {
    fn sub_assign(&mut self, rhs: Affine) {
        self.add_scaled(-1.0, &rhs);
    }
}

macro_rules! affine_binops {
    ($t:ty) => {
        impl Add<&$t> for &$t {
            type Output = $t;
            fn add(self, rhs: &$t) -> $t {
                let mut out = self.clone();
                out += rhs;
                out
            }
        }
        impl Add<$t> for $t {
            type Output = $t;
            fn add(mut self, rhs: $t) -> $t {
                self += &rhs;
                self
            }
        }
        impl Add<&$t> for $t {
            type Output = $t;
            fn add(mut self, rhs: &$t) -> $t {
                self += rhs;
                self
            }
        }
        impl Add<$t> for &$t {
            type Output = $t;
            fn add(self, rhs: $t) -> $t {
                let mut out = self.clone();
                out += &rhs;
                out
            }
        }
        impl Sub<&$t> for &$t {
            type Output = $t;
            fn sub(self, rhs: &$t) -> $t {
                let mut out = self.clone();
                out -= rhs;
                out
            }
        }
        impl Sub<$t> for $t {
            type Output = $t;
            fn sub(mut self, rhs: $t) -> $t {
                self -= &rhs;
                self
            }
        }
        impl Sub<&$t> for $t {
            type Output = $t;
            fn sub(mut self, rhs: &$t) -> $t {
                self -= rhs;
                self
            }
        }
        impl Sub<$t> for &$t {
            type Output = $t;
            fn sub(self, rhs: $t) -> $t {
                let mut out = self.clone();
                out -= &rhs;
                out
            }
        }
        impl Neg for $t {
            type Output = $t;
            fn neg(self) -> $t {
                self.scaled(-1.0)
            }
        }
        impl Neg for &$t {
            type Output = $t;
            fn neg(self) -> $t {
                self.scaled(-1.0)
            }
        }
        impl Mul<f64> for $t {
            type Output = $t;
            fn mul(self, rhs: f64) -> $t {
                self.scaled(rhs)
            }
        }
        impl Mul<f64> for &$t {
            type Output = $t;
            fn mul(self, rhs: f64) -> $t {
                self.scaled(rhs)
            }
        }
        impl Mul<$t> for f64 {
            type Output = $t;
            fn mul(self, rhs: $t) -> $t {
                rhs.scaled(self)
            }
        }
        impl Mul<&$t> for f64 {
            type Output = $t;
            fn mul(self, rhs: &$t) -> $t {
                rhs.scaled(self)
            }
        }
    };
}

affine_binops!(Affine);
affine_binops!(ComplexAffine);

impl Add<f64> for Affine {
    type Output = Affine;
    fn add(mut self, rhs: f64) -> Affine {
        self.constant += rhs;
        self
    }
}
impl Add<f64> for &Affine {
    type Output = Affine;
    fn add(self, rhs: f64) -> Affine {
        self.clone() + rhs
    }
}
impl Sub<f64> for Affine {
    type Output = Affine;
    fn sub(mut self, rhs: f64) -> Affine {
        self.constant -= rhs;
        self
    }
}
impl Sub<f64> for &Affine {
    type Output = Affine;
    fn sub(self, rhs: f64) -> Affine {
        self.clone() - rhs
    }
}

/// A complex affine expression `re + i im`, both parts real [`Affine`]s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComplexAffine {
    /// Real part.
    pub re: Affine,
    /// Imaginary part.
    pub im: Affine,
}

impl ComplexAffine {
    /// The zero expression.
    pub fn zero() -> Self {
        Self::default()
    }

    /// The constant `c`.
    pub fn constant(c: C64) -> Self {
        ComplexAffine {
            re: Affine::constant(c.re),
            im: Affine::constant(c.im),
        }
    }

    /// A real expression seen as complex (`im = 0`).
    pub fn real(re: Affine) -> Self {
        ComplexAffine {
            re,
            im: Affine::zero(),
        }
    }

    /// Complex conjugate `re - i im`.
    pub fn conj(&self) -> Self {
        ComplexAffine {
            re: self.re.clone(),
            im: self.im.scaled(-1.0),
        }
    }

    /// `self += alpha * other` for a complex scalar `alpha = ar + i ai`:
    /// `(ar + i ai)(r + i m) = (ar r - ai m) + i (ar m + ai r)`.
    pub fn add_scaled_complex(&mut self, alpha: C64, other: &ComplexAffine) {
        self.re.add_scaled(alpha.re, &other.re);
        self.re.add_scaled(-alpha.im, &other.im);
        self.im.add_scaled(alpha.re, &other.im);
        self.im.add_scaled(alpha.im, &other.re);
    }

    /// `alpha * self` for a complex scalar.
    pub fn scaled_complex(&self, alpha: C64) -> Self {
        let mut out = ComplexAffine::zero();
        out.add_scaled_complex(alpha, self);
        out
    }

    /// `alpha * self` for a real scalar.
    pub fn scaled(&self, alpha: f64) -> Self {
        ComplexAffine {
            re: self.re.scaled(alpha),
            im: self.im.scaled(alpha),
        }
    }

    /// Value at `x`.
    pub fn eval(&self, x: &[f64]) -> C64 {
        C64::new(self.re.eval(x), self.im.eval(x))
    }

    pub(crate) fn is_finite(&self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }

    /// Owner tag of the pair (see [`Affine::problem`]).
    pub(crate) fn owner(&self) -> u32 {
        join_owner(self.re.owner, self.im.owner)
    }
}

impl From<Affine> for ComplexAffine {
    fn from(re: Affine) -> Self {
        ComplexAffine::real(re)
    }
}

impl From<C64> for ComplexAffine {
    fn from(c: C64) -> Self {
        ComplexAffine::constant(c)
    }
}

impl AddAssign<&ComplexAffine> for ComplexAffine {
    fn add_assign(&mut self, rhs: &ComplexAffine) {
        self.re += &rhs.re;
        self.im += &rhs.im;
    }
}
impl AddAssign<ComplexAffine> for ComplexAffine {
    fn add_assign(&mut self, rhs: ComplexAffine) {
        *self += &rhs;
    }
}
impl SubAssign<&ComplexAffine> for ComplexAffine {
    fn sub_assign(&mut self, rhs: &ComplexAffine) {
        self.re -= &rhs.re;
        self.im -= &rhs.im;
    }
}
impl SubAssign<ComplexAffine> for ComplexAffine {
    fn sub_assign(&mut self, rhs: ComplexAffine) {
        *self -= &rhs;
    }
}
impl Add<f64> for ComplexAffine {
    type Output = ComplexAffine;
    fn add(mut self, rhs: f64) -> ComplexAffine {
        self.re.constant += rhs;
        self
    }
}
impl Add<C64> for ComplexAffine {
    type Output = ComplexAffine;
    fn add(mut self, rhs: C64) -> ComplexAffine {
        self.re.constant += rhs.re;
        self.im.constant += rhs.im;
        self
    }
}
impl Mul<C64> for &ComplexAffine {
    type Output = ComplexAffine;
    fn mul(self, rhs: C64) -> ComplexAffine {
        self.scaled_complex(rhs)
    }
}
impl Mul<C64> for ComplexAffine {
    type Output = ComplexAffine;
    fn mul(self, rhs: C64) -> ComplexAffine {
        self.scaled_complex(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_eval() {
        let x = Affine::var(0, 1);
        let y = Affine::var(1, 1);
        let e = &x * 2.0 + &y - 3.0;
        assert_eq!(e.eval(&[1.0, 4.0]), 3.0);
        let z = &e - &e;
        assert!(z.is_constant());
        assert_eq!(z.eval(&[1.0, 1.0]), 0.0);
        assert!(e.eval(&[1.0]).is_nan());
        let c = ComplexAffine::real(x.clone()).scaled_complex(C64::new(0.0, 1.0));
        assert_eq!(c.eval(&[2.0]), C64::new(0.0, 2.0));
    }

    #[test]
    fn sparse_terms_stay_sorted_and_merged() {
        // (x0 + 2 x2) + 3 (x1 - x2 / 1.5) = x0 + 3 x1: the x2 terms cancel exactly
        let mut e = Affine::from_terms(vec![(2, 2.0), (0, 1.0)], 0.5, 7);
        let f = Affine::from_terms(vec![(2, -1.0 / 1.5), (1, 1.0)], 0.0, 7);
        e.add_scaled(3.0, &f);
        assert_eq!(e.terms, vec![(0, 1.0), (1, 3.0)]);
        let s = Affine::sum([&e, &f, &e]);
        let want = [(0, 2.0), (1, 7.0), (2, -1.0 / 1.5)];
        assert_eq!(s.terms.len(), 3);
        for (a, b) in s.terms.iter().zip(want) {
            assert_eq!(a.0, b.0);
            assert!((a.1 - b.1).abs() < 1e-15);
        }
        assert_eq!(s.problem(), Some(7));
        // variables of two problems: marked as mixed
        let g = &e + &Affine::var(0, 8);
        assert_eq!(g.problem(), Some(MIXED_PROBLEMS));
        assert_eq!(Affine::constant(1.0).problem(), None);
    }
}
