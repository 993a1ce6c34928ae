//! Re-evaluation of every user constraint at a point, in the user's own terms.
//!
//! Each measure is a *relative* violation, `>= 0`, zero when satisfied:
//!
//! | constraint            | violation                                               |
//! |-----------------------|---------------------------------------------------------|
//! | `e = 0`               | `|e| / (1 + mag(e))`                                    |
//! | `e >= 0`              | `max(0, -e) / (1 + mag(e))`                             |
//! | `||x|| <= t`          | `max(0, ||x|| - t) / (1 + max(|t|, ||x||))`             |
//! | `y e^{x/y} <= z`      | `max(0, x - y log(z/y)) / (1 + |x| + |y log(z/y)|)`, plus sign violations of `y, z` |
//! | `M >= 0`              | `max(0, -lambda_min(M)) / (1 + max |lambda(M)|)`        |
//! | `log det M >= t`      | `max(0, t - sum log lambda_i) / (1 + |t|)`; `inf` if `M` is not PD |
//! | `t >= 1/x`            | `max(0, 1/x - t) / (1 + |t|)`; `inf` if `x <= 0`         |
//! | `t >= tr U^{-1}`      | `max(0, sum 1/lambda_i - t) / (1 + |t|)`; `inf` if `U` is not PD |
//!
//! where `mag(e) = |c| + sum_k |a_k x_k|` is the size of the terms that cancel.
//! Eigenvalues come from faer's self-adjoint eigensolver; a non-finite entry or
//! an eigensolver failure gives `inf`.

use faer::{Mat, Side};

use super::expr::{AffineMatrix, ComplexAffineMatrix};
use super::problem::{ConstraintKind, Problem};
use crate::C64;

fn sym_eigenvalues(m: &AffineMatrix, x: &[f64]) -> Option<Vec<f64>> {
    let n = m.len();
    let v = Mat::<f64>::from_fn(n, n, |i, j| m[i][j].eval(x));
    if !v.col_iter().all(|c| c.iter().all(|e| e.is_finite())) {
        return None;
    }
    let v = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (v[(i, j)] + v[(j, i)]));
    v.self_adjoint_eigenvalues(Side::Lower).ok()
}

fn herm_eigenvalues(m: &ComplexAffineMatrix, x: &[f64]) -> Option<Vec<f64>> {
    let n = m.len();
    let v = Mat::<C64>::from_fn(n, n, |i, j| m[i][j].eval(x));
    if !v
        .col_iter()
        .all(|c| c.iter().all(|e| e.re.is_finite() && e.im.is_finite()))
    {
        return None;
    }
    let v = Mat::<C64>::from_fn(n, n, |i, j| (v[(i, j)] + v[(j, i)].conj()) * 0.5);
    v.self_adjoint_eigenvalues(Side::Lower).ok()
}

fn psd_violation(eig: Option<Vec<f64>>) -> f64 {
    match eig {
        None => f64::INFINITY,
        Some(l) if l.is_empty() => 0.0,
        Some(l) => {
            let lmin = l.iter().cloned().fold(f64::INFINITY, f64::min);
            let lmax = l.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            (-lmin).max(0.0) / (1.0 + lmax)
        }
    }
}

fn log_det_violation(eig: Option<Vec<f64>>, t: f64) -> f64 {
    match eig {
        None => f64::INFINITY,
        Some(l) => {
            if l.iter().any(|&v| v <= 0.0) || !t.is_finite() {
                return f64::INFINITY;
            }
            let ld: f64 = l.iter().map(|v| v.ln()).sum();
            (t - ld).max(0.0) / (1.0 + t.abs())
        }
    }
}

fn exp_violation(xv: f64, yv: f64, zv: f64) -> f64 {
    if !(xv.is_finite() && yv.is_finite() && zv.is_finite()) {
        return f64::INFINITY;
    }
    let scale = 1.0 + xv.abs().max(yv.abs()).max(zv.abs());
    let sign = ((-yv).max(0.0) + (-zv).max(0.0)) / scale;
    if yv > 0.0 && zv > 0.0 {
        let r = yv * (zv / yv).ln();
        sign + (xv - r).max(0.0) / (1.0 + xv.abs() + r.abs())
    } else {
        // closure {y = 0, x <= 0, z >= 0}
        sign + xv.max(0.0) / scale
    }
}

/// Relative violation of one constraint at `x` (see the module table).
pub(crate) fn violation(kind: &ConstraintKind, x: &[f64]) -> f64 {
    let v = match kind {
        ConstraintKind::Eq(e) => e.eval(x).abs() / (1.0 + e.magnitude(x)),
        ConstraintKind::Nonneg(e) => (-e.eval(x)).max(0.0) / (1.0 + e.magnitude(x)),
        ConstraintKind::Soc { t, x: xs } => {
            let tv = t.eval(x);
            let nrm = xs.iter().map(|e| e.eval(x).powi(2)).sum::<f64>().sqrt();
            (nrm - tv).max(0.0) / (1.0 + tv.abs().max(nrm))
        }
        ConstraintKind::Exp { x: a, y, z } => exp_violation(a.eval(x), y.eval(x), z.eval(x)),
        ConstraintKind::LmiSym(m) => psd_violation(sym_eigenvalues(m, x)),
        ConstraintKind::LmiHerm(m) => psd_violation(herm_eigenvalues(m, x)),
        ConstraintKind::LogDetSym { m, t } => log_det_violation(sym_eigenvalues(m, x), t.eval(x)),
        ConstraintKind::LogDetHerm { m, t } => {
            log_det_violation(herm_eigenvalues(m, x), t.eval(x))
        }
        ConstraintKind::Inv { x: a, t } => {
            let (av, tv) = (a.eval(x), t.eval(x));
            if av > 0.0 && tv.is_finite() {
                (1.0 / av - tv).max(0.0) / (1.0 + tv.abs())
            } else {
                f64::INFINITY
            }
        }
        ConstraintKind::TraceInv { u, t } => match sym_eigenvalues(u, x) {
            None => f64::INFINITY,
            Some(l) => {
                let tv = t.eval(x);
                if l.iter().any(|&v| v <= 0.0) || !tv.is_finite() {
                    f64::INFINITY
                } else {
                    let tr: f64 = l.iter().map(|v| 1.0 / v).sum();
                    (tr - tv).max(0.0) / (1.0 + tv.abs())
                }
            }
        },
    };
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

impl Problem {
    /// Relative violation of every constraint at the point `x` (one entry per
    /// [`ConstraintId`](super::ConstraintId), in order). `x` must have
    /// [`Problem::num_vars`] entries; missing entries count as `NaN` (violation `inf`).
    pub fn violations(&self, x: &[f64]) -> Vec<f64> {
        self.constraints
            .iter()
            .map(|c| violation(&c.kind, x))
            .collect()
    }

    /// Value of the objective at `x` (0 if none was set).
    pub fn objective_value(&self, x: &[f64]) -> f64 {
        self.objective
            .as_ref()
            .map(|(_, f)| f.eval(x))
            .unwrap_or(0.0)
    }
}

/// `max` of a violation list (0 for an empty list).
pub(crate) fn max_violation(v: &[f64]) -> (f64, Option<usize>) {
    let mut best = (0.0, None);
    for (i, &e) in v.iter().enumerate() {
        if e > best.0 || (e.is_infinite() && best.1.is_none()) {
            best = (e, Some(i));
        }
    }
    best
}
