//! Re-evaluation of every user constraint at a point, in the user's own terms.
//!
//! Each measure is a *relative* violation, `>= 0`, zero when satisfied:
//!
//! | constraint            | violation                                               |
//! |-----------------------|---------------------------------------------------------|
//! | `e = 0`               | `|e| / (1 + mag(e))`, `e` divided by its data scale     |
//! | `e >= 0`              | `max(0, -e) / (1 + mag(e))`, `e` divided by its data scale |
//! | `||x|| <= t`          | `max(0, ||x|| - t) / (1 + max(|t|, ||x||))`, all divided by the block's data scale |
//! | `y e^{x/y} <= z`      | `max(0, x - y log(z/y)) / (1 + |x| + |y log(z/y)|)`, plus sign violations of `y, z` |
//! | `M >= 0`              | `max(0, -lambda_min(M)) / (1 + max |lambda(M)|)`, `M` divided by its data scale |
//! | `log det M >= t`      | `max(0, t - sum log lambda_i) / (1 + |t|)`; `inf` if `M` is not PD |
//! | `t >= 1/x`            | `max(0, 1/x - t) / (1 + |t|)`; `inf` if `x <= 0`         |
//! | `t >= tr U^{-1}`      | `max(0, sum 1/lambda_i - t) / (1 + |t|)`; `inf` if `U` is not PD |
//!
//! where `mag(e) = |c| + sum_k |a_k x_k|` is the size of the terms that cancel
//! and the data scale of a constraint is `max(max_k |a_k|, |c|)` over its
//! expressions (so the measures do not depend on how a row is scaled).
//!
//! For an unboundedness certificate (a direction `d`), the recession
//! constraints are checked instead ([`recession`]): every expression loses its
//! constant, log-det/inverse constraints become their PSD/sign parts.
//! Eigenvalues come from faer's self-adjoint eigensolver; a non-finite entry or
//! an eigensolver failure gives `inf`.

use faer::{Mat, Side};

use super::expr::{Affine, AffineMatrix, ComplexAffine, ComplexAffineMatrix};
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

/// Scale of the data of a constraint: `max(max_k |a_k|, |c|)` over its
/// expressions (1 if all are zero). Dividing by it makes the measures invariant
/// under positive rescaling of the constraint (a row `1e-9 y >= 2e-9` is judged
/// like `y >= 2`).
fn data_scale<'a>(rows: impl IntoIterator<Item = &'a Affine>) -> f64 {
    let m = rows.into_iter().fold(0.0f64, |m, e| {
        m.max(e.coef_inf_norm()).max(e.constant_term().abs())
    });
    if m > 0.0 && m.is_finite() {
        m
    } else {
        1.0
    }
}

fn psd_violation(eig: Option<Vec<f64>>, scale: f64) -> f64 {
    match eig {
        None => f64::INFINITY,
        Some(l) if l.is_empty() => 0.0,
        Some(l) => {
            let l: Vec<f64> = l.iter().map(|v| v / scale).collect();
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
        ConstraintKind::Eq(e) => {
            let f = 1.0 / data_scale([e]);
            (f * e.eval(x)).abs() / (1.0 + f * e.magnitude(x))
        }
        ConstraintKind::Nonneg(e) => {
            let f = 1.0 / data_scale([e]);
            (-f * e.eval(x)).max(0.0) / (1.0 + f * e.magnitude(x))
        }
        ConstraintKind::Soc { t, x: xs } => {
            let f = 1.0 / data_scale(std::iter::once(t).chain(xs.iter()));
            let tv = f * t.eval(x);
            let nrm = f * xs.iter().map(|e| e.eval(x).powi(2)).sum::<f64>().sqrt();
            (nrm - tv).max(0.0) / (1.0 + tv.abs().max(nrm))
        }
        ConstraintKind::Exp { x: a, y, z } => exp_violation(a.eval(x), y.eval(x), z.eval(x)),
        ConstraintKind::LmiSym(m) => {
            psd_violation(sym_eigenvalues(m, x), data_scale(m.iter().flatten()))
        }
        ConstraintKind::LmiHerm(m) => psd_violation(
            herm_eigenvalues(m, x),
            data_scale(m.iter().flatten().flat_map(|e| [&e.re, &e.im])),
        ),
        ConstraintKind::LogDetSym { m, t } => log_det_violation(sym_eigenvalues(m, x), t.eval(x)),
        ConstraintKind::LogDetHerm { m, t } => log_det_violation(herm_eigenvalues(m, x), t.eval(x)),
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

fn hom(e: &Affine) -> Affine {
    e - e.constant_term()
}

fn hom_c(e: &ComplexAffine) -> ComplexAffine {
    ComplexAffine {
        re: hom(&e.re),
        im: hom(&e.im),
    }
}

fn hom_m(m: &AffineMatrix) -> AffineMatrix {
    m.iter().map(|r| r.iter().map(hom).collect()).collect()
}

fn hom_cm(m: &ComplexAffineMatrix) -> ComplexAffineMatrix {
    m.iter().map(|r| r.iter().map(hom_c).collect()).collect()
}

/// Recession cone of a constraint, as constraints on a direction `d`:
/// `d` is a recession direction of `{x : C(x)}` iff `x + s d` satisfies `C`
/// for all `s >= 0` (from any feasible `x`). For the conic constraints this is
/// "the linear part is in the cone"; for `log det M >= t` it is
/// `M_lin(d) >= 0, t_lin(d) <= 0`; for `t >= 1/x` it is `x_lin, t_lin >= 0`;
/// for `t >= tr U^{-1}` it is `U_lin(d) >= 0, t_lin(d) >= 0`.
pub(crate) fn recession(kind: &ConstraintKind) -> Vec<ConstraintKind> {
    use ConstraintKind as K;
    match kind {
        K::Eq(e) => vec![K::Eq(hom(e))],
        K::Nonneg(e) => vec![K::Nonneg(hom(e))],
        K::Soc { t, x } => vec![K::Soc {
            t: hom(t),
            x: x.iter().map(hom).collect(),
        }],
        K::Exp { x, y, z } => vec![K::Exp {
            x: hom(x),
            y: hom(y),
            z: hom(z),
        }],
        K::LmiSym(m) => vec![K::LmiSym(hom_m(m))],
        K::LmiHerm(m) => vec![K::LmiHerm(hom_cm(m))],
        K::LogDetSym { m, t } => vec![K::LmiSym(hom_m(m)), K::Nonneg(-hom(t))],
        K::LogDetHerm { m, t } => vec![K::LmiHerm(hom_cm(m)), K::Nonneg(-hom(t))],
        K::Inv { x, t } => vec![K::Nonneg(hom(x)), K::Nonneg(hom(t))],
        K::TraceInv { u, t } => vec![K::LmiSym(hom_m(u)), K::Nonneg(hom(t))],
    }
}

impl Problem {
    /// Check an unboundedness certificate `d` in the user's terms: returns
    /// `(max recession violation, objective slope)` with `d` scaled to unit
    /// inf-norm and the slope `f_lin(d) / max_k |f_k|` signed so that a valid
    /// certificate has slope `< 0` (minimise) — for maximise the sign is flipped.
    pub(crate) fn check_unbounded_direction(&self, d: &[f64]) -> (f64, f64) {
        let nrm = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !(nrm > 0.0 && nrm.is_finite()) {
            return (f64::INFINITY, 0.0);
        }
        let d: Vec<f64> = d.iter().map(|v| v / nrm).collect();
        let viol = self
            .constraints
            .iter()
            .flat_map(|c| recession(&c.kind))
            .map(|k| violation(&k, &d))
            .fold(0.0f64, f64::max);
        let slope = match &self.objective {
            None => 0.0,
            Some((sense, f)) => {
                let s = hom(f).eval(&d) / f.coef_inf_norm().max(f64::MIN_POSITIVE);
                if *sense == super::Sense::Maximize {
                    -s
                } else {
                    s
                }
            }
        };
        (viol, slope)
    }
}
