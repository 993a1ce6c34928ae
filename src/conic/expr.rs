//! Affine expressions over the real unknowns of a [`Problem`](super::Problem).
//!
//! Every unknown of the conic layer is real. A complex quantity is a pair of
//! real affine expressions ([`ComplexAffine`]); a Hermitian matrix variable is
//! stored as its `n^2` real parameters (see [`HermitianVar`](super::HermitianVar)).
//!
//! An [`Affine`] is `c + sum_k a_k x_k`, kept sparse (`BTreeMap` var -> coef,
//! so evaluation and lowering are deterministic).

use std::collections::BTreeMap;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use crate::C64;

/// A real affine expression `c + sum_k a_k x_k` in the problem's unknowns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Affine {
    pub(crate) terms: BTreeMap<usize, f64>,
    pub(crate) constant: f64,
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
            terms: BTreeMap::new(),
            constant: c,
        }
    }

    /// The expression `1 * x_index` (crate-internal: users get variables from the problem).
    pub(crate) fn var(index: usize) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(index, 1.0);
        Affine {
            terms,
            constant: 0.0,
        }
    }

    /// Constant part `c`.
    pub fn constant_term(&self) -> f64 {
        self.constant
    }

    /// The (variable index, coefficient) pairs, in increasing index order.
    pub fn terms(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.terms.iter().map(|(&k, &v)| (k, v))
    }

    /// True when the expression has no variable terms.
    pub fn is_constant(&self) -> bool {
        self.terms.values().all(|&v| v == 0.0)
    }

    /// `self += alpha * other`, dropping coefficients that cancel exactly.
    pub fn add_scaled(&mut self, alpha: f64, other: &Affine) {
        if alpha == 0.0 {
            return;
        }
        self.constant += alpha * other.constant;
        for (&k, &v) in &other.terms {
            let e = self.terms.entry(k).or_insert(0.0);
            *e += alpha * v;
            if *e == 0.0 {
                self.terms.remove(&k);
            }
        }
    }

    /// `alpha * self`.
    pub fn scaled(&self, alpha: f64) -> Affine {
        let mut out = Affine::zero();
        out.add_scaled(alpha, self);
        out
    }

    /// Value at the point `x`; `NaN` if a variable index is outside `x`.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let mut s = self.constant;
        for (&k, &v) in &self.terms {
            match x.get(k) {
                Some(xk) => s += v * xk,
                None => return f64::NAN,
            }
        }
        s
    }

    /// Size of the quantities being summed at `x`: `|c| + sum_k |a_k x_k|`.
    /// Used as the scale of a residual when reporting relative violations.
    pub fn magnitude(&self, x: &[f64]) -> f64 {
        let mut s = self.constant.abs();
        for (&k, &v) in &self.terms {
            s += (v * x.get(k).copied().unwrap_or(f64::NAN)).abs();
        }
        s
    }

    /// `max_k |a_k|` (0 for a constant).
    pub fn coef_inf_norm(&self) -> f64 {
        self.terms.values().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Largest variable index used, if any.
    pub(crate) fn max_var(&self) -> Option<usize> {
        self.terms.keys().next_back().copied()
    }

    /// True when constant and coefficients are all finite.
    pub(crate) fn is_finite(&self) -> bool {
        self.constant.is_finite() && self.terms.values().all(|v| v.is_finite())
    }

    /// Sum of expressions.
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a Affine>) -> Affine {
        let mut out = Affine::zero();
        for a in items {
            out.add_scaled(1.0, a);
        }
        out
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
        let x = Affine::var(0);
        let y = Affine::var(1);
        let e = &x * 2.0 + &y - 3.0;
        assert_eq!(e.eval(&[1.0, 4.0]), 3.0);
        let z = &e - &e;
        assert!(z.is_constant());
        assert_eq!(z.eval(&[1.0, 1.0]), 0.0);
        assert!(e.eval(&[1.0]).is_nan());
        let c = ComplexAffine::real(x.clone()).scaled_complex(C64::new(0.0, 1.0));
        assert_eq!(c.eval(&[2.0]), C64::new(0.0, 2.0));
    }
}
